"""What the registry holds, read from GTO's git tags: each model's versions (with their commits and lineage) and
which version holds each stage.

Stage events are replayed in the order of GTO's per-model counter (`name#stage#N`), not by tag time, whose one-second
resolution cannot order a demotion and a rollback made in the same second. As in GTO, a stage is held by the version
most recently assigned to it and not since unassigned: demoting a version hands the stage back to the one before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from drivelab.errors import DrivelabError
from drivelab.registry import repository

REGISTRY_DIR = "registry"  # registry/<name>/ (DVC-tracked files) and registry/<name>.json (lineage, in git)


@dataclass
class Event:
    tag: str
    commit: str
    author: str
    date: str
    message: str
    stage: Optional[str] = None
    version: Optional[str] = None
    counter: int = 0
    assigned: bool = True


@dataclass
class Version:
    name: str
    version: str
    commit: str
    registered_by: str
    registered_at: str
    message: str
    lineage: Dict[str, Any] = field(default_factory=dict)
    stages: List[str] = field(default_factory=list)

    @property
    def reference(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass
class ModelState:
    name: str
    versions: Dict[str, Version]  # version -> Version, in semantic-version order
    events: List[Event]  # stage assignments and unassignments, oldest first

    def holder(self, stage: str) -> Optional[Version]:
        """The version holding `stage` now, or None."""
        holders = self.holders(stage)
        return self.versions[holders[-1]] if holders else None

    def holders(self, stage: str, events: Optional[List[Event]] = None) -> List[str]:
        """Versions assigned to `stage` and not since unassigned, the current holder last."""
        held: List[str] = []
        for event in self.events if events is None else events:
            if event.stage != stage or event.version is None:
                continue
            if event.version in held:
                held.remove(event.version)
            if event.assigned:
                held.append(event.version)
        return held

    def previous_holder(self, stage: str) -> Optional[Version]:
        """The version that held `stage` before the present holder took it (what a rollback returns to)."""
        current = self.holder(stage)
        seen: List[str] = []
        for event in self.events:
            if event.stage == stage and event.assigned and event.version and event.version != (
                    current.version if current else None):
                seen.append(event.version)
        return self.versions[seen[-1]] if seen else None


def _semver_key(version: str) -> tuple:
    core = version.lstrip("v").split("-")[0].split("+")[0]
    return tuple(int(part) for part in core.split("."))


def read_tags(repo: Path) -> List[Dict[str, str]]:
    fields = "%(refname:short)%00%(*objectname)%00%(objectname)%00%(taggername) %(taggeremail)%00" \
             "%(taggerdate:iso-strict)%00%(contents)%01"
    out = repository.git(repo, "for-each-ref", "refs/tags", f"--format={fields}")
    tags = []
    for record in out.split("\x01"):
        parts = record.strip("\n").split("\x00")
        if len(parts) == 6:
            name, peeled, target, author, date, message = parts
            tags.append({"tag": name, "commit": peeled or target, "author": author.strip(), "date": date,
                         "message": message.strip()})
    return tags


def model_names(repo: Path) -> List[str]:
    from gto.tag import parse_name

    names = set()
    for tag in read_tags(repo):
        try:
            names.add(parse_name(tag["tag"])["name"])
        except Exception:  # any other tag of the repository
            continue
    return sorted(names)


def read_state(repo: Path, name: str) -> ModelState:
    """Every version of `name` and every stage event, from the repository's tags."""
    from gto.constants import Action
    from gto.tag import parse_name

    versions: Dict[str, Version] = {}
    deregistered: set = set()
    events: List[Event] = []
    for tag in read_tags(repo):
        try:
            parsed = parse_name(tag["tag"])
        except Exception:
            continue
        if parsed.get("name") != name:
            continue
        action = parsed["action"]
        if action == Action.REGISTER:
            versions[parsed["version"]] = Version(name, parsed["version"], tag["commit"], tag["author"], tag["date"],
                                                  tag["message"])
        elif action == Action.DEREGISTER:
            deregistered.add(parsed["version"])
        elif action in (Action.ASSIGN, Action.UNASSIGN):
            events.append(Event(tag["tag"], tag["commit"], tag["author"], tag["date"], tag["message"],
                                stage=parsed["stage"], counter=int(parsed.get("counter", 0)),
                                assigned=action == Action.ASSIGN))
    for version in deregistered:
        versions.pop(version, None)
    by_commit = {version.commit: version.version for version in versions.values()}
    for event in events:
        event.version = by_commit.get(event.commit)
    events.sort(key=lambda event: event.counter)
    ordered = dict(sorted(versions.items(), key=lambda item: _semver_key(item[0])))
    state = ModelState(name, ordered, events)
    for stage in {event.stage for event in events if event.stage}:
        holder = state.holder(stage)
        if holder is not None:
            holder.stages.append(stage)
    for version in ordered.values():
        version.stages.sort()
        record = repository.show_file(repo, version.commit, f"{REGISTRY_DIR}/{name}.json")
        version.lineage = json.loads(record) if record else {}
    return state


def parse_reference(reference: str) -> tuple[str, str]:
    """`name@stage` or `name@vX.Y.Z` -> (name, stage or version)."""
    name, sep, which = str(reference).partition("@")
    if not sep or not name or not which:
        raise DrivelabError(f"{reference!r}: name a registered model as NAME@STAGE (trajectory@prod) or "
                            "NAME@VERSION (trajectory@v0.0.2)")
    return name, which


def resolve(repo: Path, reference: str) -> Version:
    """The registered version a reference names: `name@stage` (its present holder) or `name@vX.Y.Z`."""
    name, which = parse_reference(reference)
    state = read_state(repo, name)
    if not state.versions:
        raise DrivelabError(f"no model {name!r} is registered in {repo} (`drivelab models` lists them; "
                            "`drivelab promote` registers one)")
    if which.startswith("v") and which[1:2].isdigit():
        if which not in state.versions:
            raise DrivelabError(f"{name} has no version {which}; registered: {', '.join(state.versions)}")
        return state.versions[which]
    holder = state.holder(which)
    if holder is None:
        raise DrivelabError(f"no version of {name} is in stage {which!r} now (`drivelab models` shows the stages)")
    return holder
