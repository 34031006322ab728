"""`drivelab predict model=NAME@STAGE input=DIR_OR_DATA_VERSION output=FILE [shadow=NAME@STAGE]`: replay recorded
drives through a registered model's ONNX export with onnxruntime (no training code), writing the predictions as
Parquet and, beside them, throughput, latency, input drift and the shadow model's disagreement.

Not a Hydra app, because `model` names a config group for training: `model=` and `shadow=` are taken here, and every
other argument composes conf/predict.yaml as usual (source=ngsim, predict.on_drift=fail, ...).
"""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Dict, List

from omegaconf import DictConfig, OmegaConf

from drivelab.atomic import write_json
from drivelab.config.validate import ConfigError, compose
from drivelab.data.health.drift import STATISTICS
from drivelab.data.windows.spec import WindowSpec
from drivelab.errors import DrivelabError
from drivelab.predict import inputs, report
from drivelab.predict.compare import input_drift
from drivelab.predict.replay import replay
from drivelab.predict.runtime import OnnxModel
from drivelab.registry import fetch, repository

ON_DRIFT = ("warn", "fail")
REFERENCES = ("model", "shadow")  # registered models: NAME@STAGE or NAME@VERSION

USAGE = """usage: drivelab predict model=NAME@STAGE input=DIR_OR_DATA_VERSION output=FILE [shadow=NAME@STAGE]
                        [source=highd|ngsim|interaction] [predict.on_drift=warn|fail] [key=value ...] [--cfg job]

Replay recordings (any source format, ingested and cleaned as by `drivelab prepare`), a windows or data folder, or
a DVC revision of the windows through a registered model's ONNX export with onnxruntime. Writes FILE (Parquet: one
row per window and horizon step) and FILE's <stem>.report.json: throughput, latency percentiles, scores against the
recorded futures, input drift from the model's training data, and with shadow= the two models' disagreement
(<stem>.shadow.png). Settings: conf/predict.yaml, conf/predict/default.yaml."""


def main(argv: List[str]) -> None:
    if any(arg in ("-h", "--help", "help") for arg in argv):
        print(USAGE)
        return
    try:
        references = {key: value for key, _, value in (arg.partition("=") for arg in argv) if key in REFERENCES}
        overrides = [arg for arg in argv if arg.partition("=")[0] not in REFERENCES and arg not in ("--cfg", "job")]
        cfg = compose("predict", overrides)
        for key, value in references.items():
            cfg[key] = value or None
        if "--cfg" in argv:
            print(OmegaConf.to_yaml(cfg))
            return
        if not cfg.model:
            raise ConfigError("model=NAME@STAGE: name the registered model to serve")
        run(cfg)
    except DrivelabError as exc:
        print(f"drivelab predict: error: {exc}", file=sys.stderr)
        raise SystemExit(2)


def check(cfg: DictConfig) -> None:
    if not cfg.input or not cfg.output:
        raise ConfigError("predict needs input=DIR_OR_DATA_VERSION (recordings, a windows or data folder, or a DVC "
                          "revision) and output=FILE (.parquet)")
    if cfg.predict.on_drift not in ON_DRIFT:
        raise ConfigError(f"predict.on_drift={cfg.predict.on_drift}: choose one of {', '.join(ON_DRIFT)}")
    if cfg.predict.drift.statistic not in STATISTICS:
        raise ConfigError(f"predict.drift.statistic={cfg.predict.drift.statistic}: choose one of "
                          f"{', '.join(STATISTICS)}")
    output = Path(cfg.output)
    if output.exists() and not report.report_path(output).is_file():
        raise DrivelabError(f"output={output} exists and drivelab predict did not write it (no "
                            f"{report.report_path(output).name} beside it); choose another output")


def window_spec(model: OnnxModel, repo: Path, fallback: Any) -> WindowSpec:
    """The settings to cut recordings with: those of the model's training data version when it is in the DVC cache,
    else the card's window sizes with the stride and neighbour radius of `windows`."""
    from drivelab.data.health.versions import open_cached
    from drivelab.data.windows import store

    window, hz = model.window, int(model.window["sample_hz"])
    stride_s, radius_m = float(fallback.stride_s), float(fallback.neighbour_radius_m)
    try:
        with open_cached(str(model.card.get("data_version")), repo) as version:
            trained = store.read_info(version.windows_dir)["spec"]
            stride_s, radius_m = float(trained["stride_s"]), float(trained["neighbour_radius_m"])
    except Exception:  # not at hand: the configured windows settings stand in
        pass
    return WindowSpec(sample_hz=hz, history_s=(int(window["history_steps"]) - 1) / hz,
                      future_s=int(window["future_steps"]) / hz, stride_s=stride_s,
                      max_neighbours=int(window["max_neighbours"]), neighbour_radius_m=radius_m)


def run(cfg: DictConfig) -> None:
    check(cfg)
    settings = cfg.predict
    repo = repository.root(Path(cfg.paths.root_dir))
    output = Path(cfg.output)
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="drivelab-predict-")))
        served_version, served_dir = fetch.get(repo, cfg.model, scratch / "served")
        model = OnnxModel(served_dir, settings.threads, served_version.reference)
        shadow = shadow_version = None
        if cfg.shadow:
            shadow_version, shadow_dir = fetch.get(repo, cfg.shadow, scratch / "shadow")
            shadow = OnnxModel(shadow_dir, settings.threads, shadow_version.reference)
        source_path = Path(cfg.input)
        if source_path.exists() and not inputs.is_windows_version(source_path):
            work_dir = Path(settings.work_dir) if settings.work_dir else output.with_name(f"{output.stem}.data")
            if work_dir.exists() and any(work_dir.iterdir()) and not (work_dir / "clean_report.json").is_file():
                raise DrivelabError(f"{work_dir} holds files drivelab predict did not write; set predict.work_dir")
            source = stack.enter_context(inputs.recordings_input(source_path, cfg.source, cfg.clean,
                                                                 window_spec(model, repo, cfg.windows), work_dir))
        else:
            source = stack.enter_context(inputs.windows_input(str(cfg.input), repo))
        print(f"serving {served_version.reference} (commit {served_version.commit[:10]})"
              + (f", shadow {shadow_version.reference}" if shadow_version else "") + f" on {source.kind} {source.ref}")
        result, temporary = replay(source, model, output, int(settings.batch_size), shadow, int(settings.top_scenes))
        drift = input_drift(result.features.sample(), model.card.get("data_version"), repo,
                            settings.drift.statistic, float(settings.drift.threshold), int(settings.drift.max_windows))
        summary: Dict[str, Any] = report.summarise(cfg, served_version, shadow_version, source, result, model, shadow,
                                                   drift, output)
        print(report.text(summary))
        if drift.get("shifted") and settings.on_drift == "fail":
            temporary.unlink(missing_ok=True)
            raise DrivelabError(f"input drift in {', '.join(drift['shifted'])} (predict.on_drift=fail): nothing "
                                "was written")
        os.replace(temporary, output)
        if result.disagreement is not None:
            from drivelab.predict.compare import disagreement_plot

            summary["shadow"]["plot"] = str(disagreement_plot(summary["shadow"]["per_horizon"],
                                                              report.plot_path(output), served_version.reference,
                                                              shadow_version.reference))
        write_json(report.report_path(output), summary)
    print(f"written: {output} ({result.rows} rows), {report.report_path(output)}"
          + (f", {report.plot_path(output)}" if shadow is not None else ""))
