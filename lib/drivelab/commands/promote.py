"""`drivelab promote run_dir=DIR stage=STAGE reason=...`: gate the run's model and, only if it passes, register its
export in the repository's model registry (a commit and annotated GTO tags; nothing is pushed). A rejection exits 1,
as `drivelab gate` does."""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import DictConfig

from drivelab.errors import DrivelabError
from drivelab.export.bundle import EXPORT_DIR, current_export
from drivelab.gate import report
from drivelab.gate.decide import run_gate
from drivelab.registry import promote, repository
from drivelab.registry.preflight import check_promotion
from drivelab.runs import open_run


def current_checkpoint_md5(run) -> str | None:
    from drivelab.lineage import file_md5

    checkpoint = run.best_checkpoint
    return file_md5(checkpoint) if checkpoint and checkpoint.is_file() else None


def main(cfg: DictConfig, run_dir: Path) -> None:
    check_promotion(cfg)  # again: a run on --params skips the CLI's preflight
    repo = repository.root(Path(cfg.paths.root_dir))
    run = open_run(Path(cfg.run_dir))
    if not cfg.gate.incumbent.run_dir:  # no regression against production unless another incumbent is named
        serving = promote.incumbent(repo, cfg.name)
        if serving is not None and serving.lineage.get("checkpoint_md5") != current_checkpoint_md5(run):
            cfg.gate.incumbent.run_dir = serving.lineage["run"]["path"]
            print(f"incumbent: {serving.reference} ({', '.join(serving.stages)}), run {cfg.gate.incumbent.run_dir}")
    result = run_gate(run, cfg.gate, cfg.export, repo)
    gate_dir = run.path / "gate"
    gate_report = report.write(result, run, gate_dir)
    print(report.table(result))
    if not result.passed:  # an answer, as `drivelab gate` gives it (exit 1), not a usage error (exit 2)
        print(f"drivelab promote: error: the gate rejected {run.name} ({', '.join(gate_report['failed'])}): nothing "
              f"was registered; the report is in {gate_dir}", file=sys.stderr)
        raise SystemExit(1)
    card = current_export(run)
    if card is None:
        raise DrivelabError(f"{run.path / EXPORT_DIR} is not an export of the run's best checkpoint")
    repository.check_clean(repo)  # nothing the gate did may ride along in the promotion commit
    done = promote.promote(repo, cfg.name, cfg.stage, cfg.reason, run, card, run.path / EXPORT_DIR, gate_report,
                           gate_dir)
    action = "registered as" if done.registered else "already registered as"
    print(f"{run.name}: {action} {done.name} {done.version} (commit {done.commit[:10]}), now in {done.stage}")
    print(f"tags: {', '.join(done.tags)} (not pushed: git push origin {' '.join(done.tags)}; dvc push)")
