"""The project's own import graph, read from the source (every import statement, function-level ones included)."""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, Optional, Set

from conftest import PROJECT_ROOT

LIB = PROJECT_ROOT / "lib"
PACKAGES = {"drivelab": LIB, "hydra_plugins": LIB, "experiments": PROJECT_ROOT}


def module_file(module: str) -> Optional[Path]:
    root = PACKAGES.get(module.split(".")[0])
    if root is None:
        return None
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def all_modules(package: str = "drivelab") -> Set[str]:
    root = PACKAGES[package]
    found = set()
    for path in (root / package).rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        found.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


@lru_cache(maxsize=None)
def direct_imports(module: str, with_parents: bool = False) -> frozenset:
    """Project modules `module` imports anywhere in its source (`from a.b import c` counts a.b.c when c is a module);
    `with_parents` adds the packages Python initialises on the way (importing a.b.c runs a and a.b first)."""
    path = module_file(module)
    if path is None:
        return frozenset()
    is_package = path.name == "__init__.py"
    found: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            if module_file(name) is None:
                continue
            if node.__class__ is ast.ImportFrom and name == base and len(names) > 1 and not with_parents:
                if any(module_file(other) is not None for other in names[1:]):
                    continue  # `from a.b import c` with c a module: an edge to c, not to the package a.b
            found.add(name)
            if with_parents:
                parts = name.split(".")
                found.update(".".join(parts[:i]) for i in range(1, len(parts)) if module_file(".".join(parts[:i])))
    found.discard(module)
    return frozenset(found)


def closure(roots: Iterable[str]) -> Set[str]:
    seen: Set[str] = set()
    stack = [root for root in roots if module_file(root) is not None]
    while stack:
        module = stack.pop()
        if module in seen:
            continue
        seen.add(module)
        stack.extend(direct_imports(module, with_parents=True) - seen)
    return seen


def graph(modules: Iterable[str]) -> Dict[str, Set[str]]:
    return {module: set(direct_imports(module)) for module in modules}
