"""`drivelab <command> [overrides]`: one entry point, one Hydra app per command.

Only Hydra and OmegaConf are imported here: help, `--cfg job` and config validation stay well under a second.
Each command's module (and with it torch and Lightning) is imported only once its config has been checked.
argv is never rewritten, so Lightning's DDP launcher, which re-runs this command line for each extra rank,
starts the children with the same command in the same run directory.
"""

from __future__ import annotations

import importlib
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from omegaconf import DictConfig, OmegaConf

from drivelab import console
from drivelab.config.validate import (ConfigError, check, compose, conf_dir, describe, refuse_data_overrides,
                                      validate_sweep)
from drivelab.errors import DrivelabError


@dataclass(frozen=True)
class Command:
    module: str  # module with `main(cfg, run_dir)`, imported lazily
    summary: str
    hydra_app: bool = True
    config: str = ""  # root config in conf/ (and its schema); defaults to the command's name
    preflight: str = ""  # "module:function" checking the files a config names before a run directory is made;
    # it may return overrides to add (a resumed run's own directory)


COMMANDS: Dict[str, Command] = {
    "simulate": Command("drivelab.commands.simulate", "simulate highway traffic into highD-format recordings"),
    "prepare": Command("drivelab.commands.prepare", "ingest -> clean -> windows: recordings to training windows"),
    "ingest": Command("drivelab.commands.ingest", "recordings of any source format (highD, NGSIM, INTERACTION, simulated) -> raw canonical tracks (part of prepare)", config="prepare"),
    "clean": Command("drivelab.commands.clean", "raw tracks -> validated tracks, quarantine and report (part of prepare)", config="prepare"),
    "windows": Command("drivelab.commands.windows", "canonical tracks -> training windows (part of prepare)", config="prepare"),
    "health": Command("drivelab.commands.health", "data health report of a windows version: JSON metrics + PNG plots"),
    "data": Command("drivelab.commands.data", "`data diff A B`: counts, recordings and feature drift between data versions", False),
    "train": Command("drivelab.commands.train", "train and test a model (a Hydra app: group=option key=value)",
                     preflight="drivelab.runs.resume:preflight"),
    "eval": Command("drivelab.commands.evaluate", "re-evaluate a run with its own config and best checkpoint"),
    "export": Command("drivelab.commands.export", "a run's model as ONNX + torch.export program: parity, latency, model card"),
    "gate": Command("drivelab.commands.gate", "may a run's model advance? thresholds, behaviour tests, export checks"),
    "promote": Command("drivelab.commands.promote", "gate a run's model and register its export in a stage (GTO tags, DVC files)",
                       preflight="drivelab.registry.preflight:check_promotion"),
    "models": Command("drivelab.commands.models", "the model registry: versions, stages, lineage; get, demote, rollback", False),
    "predict": Command("drivelab.commands.predict", "replay recordings or windows through a registered model's ONNX export: predictions, drift, shadow", False),
    "sweep": Command("drivelab.commands.sweep", "Optuna search over conf/search/NAME.yaml; trials are train runs, resumable"),
    "compare": Command("drivelab.commands.compare", "experiment=IDEA vs baselines over seeds: run cache, paired bootstrap CIs, report"),
    "runs": Command("drivelab.commands.runs", "every run at a glance: status (killed when its process died), age, model, data, metrics, health", False),
    "doctor": Command("drivelab.commands.doctor", "environment and project checks with fixes; `run_dir=DIR` explains how a run ended", False),
    "demo": Command("drivelab.commands.demo", "the main job: the DVC pipeline on simulated data, then a results table", False),
}

_RUN_TOKEN = secrets.token_hex(3)


def _register_resolvers() -> None:
    if not OmegaConf.has_resolver("drivelab_run_token"):
        # One token per process: every reference to the run directory within a run agrees.
        OmegaConf.register_new_resolver("drivelab_run_token", lambda: _RUN_TOKEN)
    if not OmegaConf.has_resolver("drivelab_run_label"):
        OmegaConf.register_new_resolver("drivelab_run_label", run_label)
    if not OmegaConf.has_resolver("drivelab_command_help"):
        OmegaConf.register_new_resolver("drivelab_command_help", lambda name: COMMANDS[name].summary)


def run_label(choices: DictConfig) -> str:
    """What a run directory is named after: the experiment when one is chosen, else the model."""
    for group in ("experiment", "model"):
        choice = choices.get(group) if choices is not None else None
        if choice:
            return str(choice).replace("/", "-")
    return "run"


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: drivelab <command> [--help] [group=option ...] [key=value ...]", "", "commands:"]
    lines += [f"  {name:<{width}}  {command.summary}" for name, command in COMMANDS.items()]
    lines += [
        "",
        "Every Hydra command also takes: --cfg job (print the composed config), -m (multirun sweep),",
        "-v (all library output on the console, as in the run's train.log),",
        "--params FILE [--run-dir DIR] (run on an already composed config, e.g. DVC's params.yaml).",
        f"Configuration lives in {conf_dir()}.",
    ]
    return "\n".join(lines)


def fail(command: str, message: str) -> None:
    print(f"drivelab {command}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return
    if "-v" in args or "--verbose" in args:  # drivelab [-v] <command> [-v] ...: everything the libraries print
        console.request_verbose()
        args = [arg for arg in args if arg not in ("-v", "--verbose")]
    if not args:
        print(usage())
        return
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        fail(name, f"unknown command; choose one of: {', '.join(COMMANDS)}")
    command = COMMANDS[name]
    config_name = command.config or name
    if not command.hydra_app:
        importlib.import_module(command.module).main(rest)
        return
    _register_resolvers()
    params_file, run_dir, rest = _pop_params_flags(name, rest)
    try:
        if params_file is not None:
            _run_on_params(name, config_name, command, params_file, run_dir, rest)
        else:
            _run_hydra_app(name, config_name, command, rest)
    except DrivelabError as exc:
        fail(name, str(exc))


def _pop_params_flags(name: str, args: List[str]) -> tuple[Optional[Path], Optional[Path], List[str]]:
    params_file = run_dir = None
    remaining: List[str] = []
    iterator = iter(args)
    for arg in iterator:
        flag, _, value = arg.partition("=")
        if flag in ("--params", "--run-dir"):
            value = value or next(iterator, "")
            if not value:
                fail(name, f"{flag} needs a value")
            if flag == "--params":
                params_file = Path(value)
            else:
                run_dir = Path(value)
        else:
            remaining.append(arg)
    if run_dir is not None and params_file is None:
        fail(name, "--run-dir goes with --params; otherwise use hydra.run.dir=DIR")
    return params_file, run_dir, remaining


def _task(name: str, config_name: str, command: Command) -> Callable[[DictConfig], None]:
    def task(cfg: DictConfig) -> None:
        from hydra.core.hydra_config import HydraConfig

        typed = check(config_name, cfg)  # already validated up front; this gives the job typed values
        run_dir = Path(HydraConfig.get().runtime.output_dir)
        try:
            _start(command, typed).main(typed, run_dir)
        except DrivelabError as exc:
            fail(name, str(exc))

    task.__module__ = __name__
    return task


def _run_hydra_app(name: str, config_name: str, command: Command, args: List[str]) -> None:
    from hydra._internal.utils import _run_hydra, get_args_parser

    parser = get_args_parser()
    parsed = parser.parse_args(args)
    informational = parsed.help or parsed.hydra_help or parsed.info or parsed.shell_completion
    if not informational:
        if parsed.multirun:
            validate_sweep(config_name, parsed.overrides)
        else:
            cfg = compose(config_name, parsed.overrides)
            if command.preflight:  # imported by name: it may load torch, which config-only commands never need
                module, _, function = command.preflight.partition(":")
                parsed.overrides.extend(getattr(importlib.import_module(module), function)(cfg) or [])
    _run_hydra(
        args=parsed,
        args_parser=parser,
        task_function=_task(name, config_name, command),
        config_path=str(conf_dir()),
        config_name=config_name,
    )


def _run_on_params(name: str, config_name: str, command: Command, params_file: Path, run_dir: Optional[Path],
                   overrides: List[str]) -> None:
    """Run on a composed config file, as DVC stages do (DVC writes params.yaml from conf/ on `dvc exp run`)."""
    if not params_file.is_file():
        raise ConfigError(f"--params {params_file}: no such file")
    try:
        cfg = OmegaConf.load(params_file)
        bad = [o for o in overrides if "=" not in o or o.startswith(("+", "~", "hydra."))]
        if bad:
            raise ConfigError(f"with --params only key=value overrides apply; got {bad[0]}")
        refuse_data_overrides(config_name, overrides)
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(overrides))
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"{params_file}: {describe(exc)}") from None
    typed = check(config_name, cfg, strict=False)  # params.yaml holds every stage's sections
    log_file = run_dir / "train.log" if run_dir is not None else None  # the pipeline's run keeps its log too
    if run_dir is None:
        run_dir = Path.cwd()
    _start(command, typed, log_file).main(typed, run_dir)


def _start(command: Command, cfg: DictConfig, log_file: Optional[Path] = None):
    """The command's module, imported, with the console quiet (unless verbose) and torch's thread count set."""
    module = importlib.import_module(command.module)  # imports Lightning, which adds its log handler
    console.quiet(console.verbose_requested(cfg.get("verbose")), log_file)
    console.use_thread_setting()
    return module


if __name__ == "__main__":
    main()
