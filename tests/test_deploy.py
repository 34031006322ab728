"""Containers and clusters, checked offline: the Dockerfile passes hadolint, the Kubernetes manifests validate against
the Kubernetes schemas, and the drivelab commands inside them compose with today's configs."""

import shlex
import shutil
import subprocess

import pytest
import yaml

from conftest import BIN_DIR, PROJECT_ROOT, cli_env, drivelab

DEPLOY = PROJECT_ROOT / "deploy"
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))


def tool(name: str) -> str:
    path = BIN_DIR / name if (BIN_DIR / name).exists() else shutil.which(name)
    assert path, f"{name} is installed with the dev extra"
    return str(path)


def test_the_dockerfile_passes_hadolint():
    done = subprocess.run([tool("hadolint"), str(DEPLOY / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("manifest", MANIFESTS, ids=[path.name for path in MANIFESTS])
def test_kubernetes_manifests_validate_against_the_schemas(manifest):
    done = subprocess.run([tool("kubernetes-validate"), "--strict", str(manifest)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def drivelab_commands():
    """Every `drivelab ...` command line the manifests run (after torchrun's `-m drivelab`, or in a shell line)."""
    for manifest in MANIFESTS:
        for document in yaml.safe_load_all(manifest.read_text()):
            for container in (document.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []):
                words = [*container.get("command", []), *container.get("args", [])]
                if "drivelab" in words and words[0] == "torchrun":
                    yield manifest.name, words[words.index("drivelab") + 1:]
                elif words[:2] == ["/bin/sh", "-c"]:
                    line = shlex.split(words[2].split("&&")[0])
                    if line[0] == "drivelab":
                        yield manifest.name, line[1:]


def test_the_manifests_run_drivelab():
    assert {name for name, _ in drivelab_commands()} == {"train-ddp.yaml", "sweep-workers.yaml"}


@pytest.mark.parametrize("name,args", list(drivelab_commands()), ids=lambda value: str(value)[:20])
def test_the_commands_in_the_manifests_compose_with_todays_configs(name, args):
    # The Secret the cluster mounts as STUDY_DB_URL, here a stand-in.
    done = drivelab(*args, "--cfg", "job", env=cli_env(STUDY_DB_URL="postgresql://worker:pw@db/optuna"), check=False)
    assert done.returncode == 0, f"{name}: drivelab {' '.join(args)}\n{done.stderr}"
