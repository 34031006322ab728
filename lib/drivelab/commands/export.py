"""`drivelab export run_dir=DIR`: the run's model as ONNX and a `torch.export` program in DIR/export/, with parity
checked against the PyTorch model, CPU latency measured, and a model card (card.json, card.md)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from drivelab.config.validate import ConfigError
from drivelab.errors import DrivelabError
from drivelab.export.bundle import export_run
from drivelab.runs import open_run


def main(cfg: DictConfig, run_dir: Path) -> None:
    if not cfg.run_dir:
        raise ConfigError("nothing to export: set run_dir=DIR (a run directory holding manifest.json)")
    run = open_run(Path(cfg.run_dir))
    result = export_run(run, cfg.export, Path(cfg.output_dir) if cfg.output_dir else None, cfg.data_dir)
    for name, entry in result.card["formats"].items():
        if "error" in entry:
            print(f"{name}: not exported: {entry['error']}")
            continue
        timings = ", ".join(f"batch {r['batch']} p50 {r['p50_ms']:.2f} ms p99 {r['p99_ms']:.2f} ms"
                            for r in result.card["latency"][name])
        print(f"{name}: {entry['file']}  parity {entry['parity']['max_abs_diff']:.1e} m  {timings}")
    print(f"written: {result.folder} (card.json, card.md)")
    if not result.ok:
        raise DrivelabError("export incomplete: " + "; ".join(result.problems))
