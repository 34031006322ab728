"""Which model is in production now: the incumbent a candidate must not fall behind.

Until a model registry exists the incumbent is a named run directory (`gate.incumbent.run_dir`); the registry will
answer here, so that everything else in the gate stays as it is. No incumbent (the first model) means the
no-regression check passes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from drivelab.errors import MissingInputError
from drivelab.runs import Run, open_run


def incumbent_run(settings: Any) -> Optional[Run]:
    """The production model's run, or None when there is none yet."""
    if not settings.run_dir:
        return None
    path = Path(settings.run_dir)
    if not (path / "manifest.json").is_file():
        raise MissingInputError(f"gate.incumbent.run_dir={settings.run_dir}: no run directory there (no "
                                "manifest.json); point it at the production model's run, or set it to null")
    return open_run(path)
