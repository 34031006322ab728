"""`drivelab gate run_dir=DIR`: decide whether the run's model may advance. Prints every check with its value,
threshold and result, writes gate.json and gate.md, and exits non-zero when any check fails (unless
fail_on_reject=false, as in the DVC stage, which records the verdict as a metric instead of stopping the pipeline)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from drivelab.config.validate import ConfigError
from drivelab.gate import report
from drivelab.gate.decide import run_gate
from drivelab.runs import open_run


def main(cfg: DictConfig, run_dir: Path) -> None:
    if not cfg.run_dir:
        raise ConfigError("nothing to judge: set run_dir=DIR (a run directory holding manifest.json)")
    run = open_run(Path(cfg.run_dir))
    result = run_gate(run, cfg.gate, cfg.export, Path(cfg.paths.root_dir))
    output_dir = Path(cfg.output_dir) if cfg.output_dir else run.path / "gate"
    report.write(result, run, output_dir)
    print(report.table(result))
    print(f"written: {output_dir / report.GATE_JSON}, {output_dir / report.GATE_MARKDOWN}")
    if not result.passed and cfg.fail_on_reject:
        raise SystemExit(1)
