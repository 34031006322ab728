"""The model registry: versions and stages of exported models, kept in the git repository itself.

GTO (the DVC ecosystem's registry) records each version and each stage assignment as an annotated git tag; the
exported files and model card live in `registry/<name>/`, tracked by DVC (so `dvc push` sends them to the remote),
and declared under `artifacts:` in dvc.yaml; `registry/<name>.json` (in git) holds the lineage and gate summary of
the version committed with it. Allowed stages are listed in `.gto`. Nothing here pushes.
"""
