"""Promotion: a gated run's export becomes a registered version in a stage, through one commit and annotated tags.

The files travel as `registry/<name>/` (DVC-tracked: model files, card, gate report) and `registry/<name>.json`
(git-tracked: lineage and gate summary, readable by `drivelab models` without fetching anything). A run already
registered (same checkpoint) is not registered again: the stage is assigned to its version.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional

from drivelab.atomic import replace_dir, write_json
from drivelab.errors import DrivelabError
from drivelab.registry import repository
from drivelab.registry.state import REGISTRY_DIR, ModelState, Version, read_state

REGISTERED_FILES = ("card.json", "card.md")  # beside the model files the card lists
GATE_FILES = ("gate.json", "gate.md")


@dataclass
class Promotion:
    name: str
    version: str
    stage: str
    commit: str  # the version's commit
    registered: bool  # False: the run was registered before; only the stage moved
    tags: List[str]


def allowed_stages(repo: Path) -> List[str]:
    """The stages `.gto` allows; a registry without that file is refused, as stages are a team decision."""
    config = Path(repo) / ".gto"
    if not config.is_file():
        raise DrivelabError(f"{repo} has no .gto: list the allowed stages there (stages: [staging, prod])")
    from gto.config import read_registry_config

    stages = read_registry_config(str(config)).stages
    if not stages:
        raise DrivelabError(f"{config} lists no stages: add `stages: [staging, prod]`")
    return list(stages)


def check_stage(repo: Path, stage: str) -> None:
    stages = allowed_stages(repo)
    if stage not in stages:
        raise DrivelabError(f"stage={stage}: not a stage of this registry; choose one of {', '.join(stages)} "
                            f"(.gto)")


def check_name(name: str) -> None:
    from gto.constants import check_string_is_valid

    if not check_string_is_valid(name):
        raise DrivelabError(f"name={name!r}: a model name is letters, digits, '-', '_' or '/', starting and ending "
                            "with a letter or digit")


def incumbent(repo: Path, name: str) -> Optional[Version]:
    """The version in the last stage `.gto` lists (production), when its run directory is on this machine: what a
    candidate must not regress against."""
    holder = read_state(repo, name).holder(allowed_stages(repo)[-1])
    run_path = (holder.lineage.get("run") or {}).get("path") if holder else None
    return holder if run_path and (Path(run_path) / "manifest.json").is_file() else None


def gate_summary(report: Dict[str, Any]) -> Dict[str, Any]:
    checks = report["checks"]
    candidate = report["metrics"]["candidate"]
    return {"passed": report["passed"], "checks": len(checks), "failed": report["failed"],
            "data": report["data"], "rmse_5s": candidate.get("rmse_5s"), "miss_rate": candidate.get("miss_rate"),
            "constant_velocity_rmse_5s": report["metrics"]["constant_velocity"].get("rmse_5s")}


def summary_line(gate: Dict[str, Any]) -> str:
    verdict = "passed" if gate["passed"] else "FAILED"
    passed = gate["checks"] - len(gate["failed"])
    data = gate["data"]
    return (f"gate {verdict} {passed}/{gate['checks']} checks on {data['revision']}:{data['path']} ({data['md5']}); "
            f"RMSE@5s {gate['rmse_5s']:.3f} m vs constant velocity {gate['constant_velocity_rmse_5s']:.3f} m, "
            f"miss rate {gate['miss_rate']:.3f}")


def next_version(state: ModelState) -> str:
    if not state.versions:
        return "v0.0.1"
    major, minor, patch = (int(part) for part in list(state.versions)[-1].lstrip("v").split("-")[0].split("."))
    return f"v{major}.{minor}.{patch + 1}"


def registered_version(state: ModelState, checkpoint_md5: Optional[str]) -> Optional[Version]:
    for version in state.versions.values():
        if checkpoint_md5 and version.lineage.get("checkpoint_md5") == checkpoint_md5:
            return version
    return None


def message(title: str, who: str, when: str, reason: str, lineage: Dict[str, Any]) -> str:
    run = lineage["run"]
    return "\n".join([title, "", f"by: {who}", f"at: {when}", f"why: {reason}", summary_line(lineage["gate"]),
                      f"run: {run['name']} ({run['model']}), commit {run['git_commit']}, "
                      f"data version {run['data_version']}"])


def stage_files(repo: Path, name: str, export_dir: Path, card: Dict[str, Any], gate_dir: Path) -> Path:
    """Copy the export's files, card and gate report into registry/<name>/ (replaced whole)."""
    target = repo / REGISTRY_DIR / name
    if target.exists() and any(target.iterdir()) and not (target / "card.json").is_file():
        raise DrivelabError(f"{target} holds files a promotion did not write; move them away")
    files = [entry["file"] for entry in card["formats"].values() if entry.get("file")] + list(REGISTERED_FILES)
    with replace_dir(target) as staging:
        for file in files:
            shutil.copy2(export_dir / file, staging / file)
        for file in GATE_FILES:
            shutil.copy2(gate_dir / file, staging / file)
    return target


def declare_artifact(repo: Path, name: str) -> None:
    """Declare registry/<name> under `artifacts:` in dvc.yaml unless it is (what `dvc artifacts get` reads)."""
    from dvc.annotations import Artifact
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc_repo:
        declared = {artifact for artifacts in dvc_repo.artifacts.read().values() for artifact in artifacts}
        if name not in declared:
            dvc_repo.artifacts.add(name, Artifact(path=f"{REGISTRY_DIR}/{name}", type="model",
                                                  desc="exported model, card and gate report (drivelab promote)"),
                                   dvcfile=str(repo / "dvc.yaml"))


def dvc_add(repo: Path, path: Path) -> None:
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc_repo:
        dvc_repo.add(str(path))


def promote(repo: Path, name: str, stage: str, reason: str, run: Any, card: Dict[str, Any], export_dir: Path,
            gate_report: Dict[str, Any], gate_dir: Path) -> Promotion:
    """Register the run's export (unless registered already) and assign `stage` to its version. The caller has
    checked the tree is clean and the gate passed."""
    import gto.api

    who, when = repository.who(repo), datetime.now(timezone.utc).isoformat(timespec="seconds")
    state = read_state(repo, name)
    checkpoint_md5 = card.get("checkpoint", {}).get("md5")
    existing = registered_version(state, checkpoint_md5)
    lineage = {"name": name, "version": existing.version if existing else next_version(state),
               "checkpoint_md5": checkpoint_md5, "promoted_by": who, "promoted_at": when, "reason": reason,
               "run": {"name": run.name, "path": str(run.path), "model": run.label,
                       "git_commit": run.manifest.get("git_commit"), "data_version": run.data_version},
               "gate": gate_summary(gate_report), "formats": sorted(card["formats"])}
    tags = []
    if existing is None:
        version = lineage["version"]
        folder = stage_files(repo, name, export_dir, card, gate_dir)
        write_json(repo / REGISTRY_DIR / f"{name}.json", lineage)
        dvc_add(repo, folder)
        declare_artifact(repo, name)
        paths = [path for path in (f"{REGISTRY_DIR}/{name}.dvc", f"{REGISTRY_DIR}/{name}.json",
                                   f"{REGISTRY_DIR}/.gitignore", "dvc.yaml") if (repo / path).exists()]
        text = message(f"Register {name} {version}", who, when, reason, lineage)
        commit = repository.commit(repo, paths, text)
        gto.api.register(str(repo), name, commit, version=version, message=text, push=False)
        tags.append(f"{name}@{version}")
    else:
        version, commit = existing.version, existing.commit
        holder = state.holder(stage)
        if holder is not None and holder.version == version:
            raise DrivelabError(f"{name} {version} (this run) holds {stage} already")
    text = message(f"Promote {name} {version} to {stage}", who, when, reason, lineage)
    # force: a version may return to a stage it held before (GTO refuses that without it)
    gto.api.assign(str(repo), name, stage, version=version, message=text, force=True, push=False)
    tags.append(read_state(repo, name).events[-1].tag)
    return Promotion(name, version, stage, commit, existing is None, tags)


def demote(repo: Path, name: str, stage: str, reason: str) -> tuple[Version, Optional[Version]]:
    """Take `stage` from its present holder; returns (the demoted version, the version holding the stage now)."""
    import gto.api

    check_stage(repo, stage)
    state = read_state(repo, name)
    holder = state.holder(stage)
    if holder is None:
        raise DrivelabError(f"no version of {name} is in stage {stage!r}: nothing to demote")
    who, when = repository.who(repo), datetime.now(timezone.utc).isoformat(timespec="seconds")
    text = f"Demote {name} {holder.version} from {stage}\n\nby: {who}\nat: {when}\nwhy: {reason}"
    gto.api.unassign(str(repo), name, stage=stage, version=holder.version, message=text, push=False)
    return holder, read_state(repo, name).holder(stage)


def rollback(repo: Path, name: str, stage: str, reason: str, to: Optional[str] = None) -> tuple[Optional[Version],
                                                                                                  Version]:
    """Assign `stage` to an earlier version: `to`, or the one that held it before the present holder."""
    import gto.api

    check_stage(repo, stage)
    state = read_state(repo, name)
    current = state.holder(stage)
    if to is not None:
        if to not in state.versions:
            raise DrivelabError(f"to={to}: {name} has no such version; registered: {', '.join(state.versions)}")
        target = state.versions[to]
    else:
        target = state.previous_holder(stage)
        if target is None:
            raise DrivelabError(f"no earlier version of {name} held {stage!r}: name one with to=vX.Y.Z")
    if current is not None and target.version == current.version:
        raise DrivelabError(f"{name} {target.version} holds {stage} already")
    who, when = repository.who(repo), datetime.now(timezone.utc).isoformat(timespec="seconds")
    previous = f" (replacing {current.version})" if current else ""
    text = f"Roll {name} {stage} back to {target.version}{previous}\n\nby: {who}\nat: {when}\nwhy: {reason}"
    gto.api.assign(str(repo), name, stage, version=target.version, message=text, force=True, push=False)
    return current, target
