"""What a person sees on the terminal: the libraries' chatter kept off it (it still reaches the run's `train.log`),
counted nouns written as people write them; and how many cores a command may take (DRIVELAB_THREADS).

`drivelab -v <command>`, `verbose=true` (train, sweep, eval, prepare) or `DRIVELAB_VERBOSE=1` brings everything back.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Any, Optional

VERBOSE_ENV = "DRIVELAB_VERBOSE"
THREADS_ENV = "DRIVELAB_THREADS"

# Lines nobody can act on: Lightning's hardware report and advertisement, echoes of the default limit_* settings, the
# note that max_epochs was reached, a deprecation inside Lightning, the logging interval on small data, the loader
# worker advice (in-process loading is the faster choice here), W&B's notice about a setting Lightning passes.
NOISE = re.compile("|".join([
    r"^(GPU|TPU|HPU) available: ",
    r"Tip: ",
    r"Trainer\(limit_(train|val|test|predict)_batches=1\.0\)` was configured",
    r"`Trainer\.fit` stopped: `max_epochs=\d+` reached",
    r"LeafSpec",
    r"is smaller than the logging interval",
    r"does not have many workers which may be a bottleneck",
    r"The anonymous setting has no effect",
]))

LIBRARY_LOGGERS = ("pytorch_lightning", "lightning_fabric", "lightning", "lightning.pytorch", "wandb")


def verbose_requested(setting: Any = None) -> bool:
    """True when `verbose=true` was configured or `-v` / DRIVELAB_VERBOSE=1 asked for the full output."""
    return bool(setting) or os.environ.get(VERBOSE_ENV, "") not in ("", "0", "false")


class DropNoise(logging.Filter):
    """Drops the lines in NOISE from the handler it is attached to (a console), not from the log file."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not NOISE.search(record.getMessage())


def quiet(verbose: bool = False) -> None:
    """Keep library chatter off the console for the rest of this process; log files keep every line.

    Python warnings go through logging (`py.warnings`), so they land in `train.log` too and are filtered here like
    any other line. Call it once the command's module is imported: Lightning adds its own handler on import.
    """
    if verbose:
        os.environ[VERBOSE_ENV] = "1"  # child processes (DVC stages, sweep workers) stay verbose too
        return
    os.environ.setdefault("WANDB_SILENT", "true")  # no run history/summary block after each run
    logging.captureWarnings(True)
    root = logging.getLogger()
    if not root.handlers:  # no Hydra logging (a --params run): warnings would otherwise print unfiltered
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        root.addHandler(console)
    loggers = [root] + [logging.getLogger(name) for name in LIBRARY_LOGGERS if name in logging.Logger.manager.loggerDict]
    for logger in loggers:
        for handler in logger.handlers:
            if _is_console(handler) and not any(isinstance(f, DropNoise) for f in handler.filters):
                handler.addFilter(DropNoise())


def _is_console(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)


def hide_run_version(progress_bar: Any) -> None:
    """Leave the logger's version (`v_num`) out of a Lightning progress bar: it names nothing the user chose."""
    if progress_bar is None or verbose_requested():
        return
    show = progress_bar.get_metrics

    def get_metrics(trainer: Any, pl_module: Any) -> dict:
        metrics = show(trainer, pl_module)
        metrics.pop("v_num", None)
        return metrics

    progress_bar.get_metrics = get_metrics


def free_cores() -> int:
    """Cores not busy with other work: usable cores minus the 1-minute load average (at least one)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    try:
        busy = int(round(os.getloadavg()[0]))
    except OSError:
        busy = 0
    return max(1, min(usable, usable - busy))


def use_thread_setting() -> None:
    """Give torch DRIVELAB_THREADS threads when it is set (`drivelab demo` sets it from the free cores). Unset, torch
    keeps its default, one thread per core. Only touches torch once the command has imported it."""
    value = os.environ.get(THREADS_ENV, "")
    if not value or "torch" not in sys.modules:
        return
    try:
        threads = int(value)
    except ValueError:
        threads = 0
    if threads < 1:
        from drivelab.errors import ConfigError

        raise ConfigError(f"{THREADS_ENV}={value!r}: expected a whole number of threads >= 1")
    sys.modules["torch"].set_num_threads(threads)


def counted(count: int, noun: str, plural: Optional[str] = None) -> str:
    """'1 recording', '2 recordings', '0 recordings'."""
    return f"{count} {noun if count == 1 else (plural or noun + 's')}"
