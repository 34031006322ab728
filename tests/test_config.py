"""Configuration: composition, schema validation with one-line errors, and config-only commands staying light."""

import subprocess
import sys

import pytest
import yaml

from conftest import PROJECT_ROOT, cli_env, drivelab
from drivelab.config.validate import ConfigError, compose


def test_default_train_config_composes_and_is_typed():
    cfg = compose("train")
    assert cfg.model._target_ == "drivelab.models.mlp.ResidualMLP"
    assert isinstance(cfg.seed, int) and cfg.trainer.max_epochs > 0


@pytest.mark.parametrize("override,message", [
    ("model=transformerz", "'transformerz' is not an option of config group 'model'; choose one of: ca, cv, cv_no_lateral, gru, intention_gru, intention_majority, interaction, lstm, mlp, multimodal"),
    ("trainer.max_epochs=many", "wrong type for 'trainer.max_epochs'"),
    ("model.hidden_size=wide", "wrong type for 'model.hidden_size'"),
    ("model.hiden_size=3", "unknown key 'model.hiden_size'"),
    ("+trainer.max_epoch=3", "unknown key 'trainer.max_epoch'"),
    ("model._target_=os.system", "model._target_=os.system is not a configurable object"),
])
def test_bad_overrides_are_rejected_in_one_line(override, message):
    with pytest.raises(ConfigError, match=None) as error:
        compose("train", [override])
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_required_value_is_named():
    with pytest.raises(ConfigError, match="missing required value: model"):
        compose("train", ["~model"])


def test_rejected_command_exits_2_with_one_line_and_writes_nothing(tmp_path):
    done = drivelab("train", f"paths.runs_dir={tmp_path}/runs", f"paths.data_dir={tmp_path}/data",
                    "trainer.max_epochs=x", check=False)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "drivelab train: error: wrong type for 'trainer.max_epochs'" in done.stderr
    assert list(tmp_path.iterdir()) == []


LIGHT_COMMANDS = [["--help"], ["train", "--help"], ["train", "--cfg", "job"], ["simulate", "--cfg", "job"],
                  ["train", "model=nope"]]


@pytest.mark.parametrize("argv", LIGHT_COMMANDS, ids=[" ".join(a) for a in LIGHT_COMMANDS])
def test_config_only_commands_import_neither_torch_nor_lightning(argv):
    probe = (
        "import sys\nfrom drivelab.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('torch', 'pytorch_lightning', 'wandb') if m in sys.modules)\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=cli_env(), cwd=PROJECT_ROOT)
    assert "HEAVY []" in done.stderr, done.stderr


def test_committed_params_yaml_matches_conf(tmp_path):
    """DVC stages read params.yaml; `dvc exp run` rewrites it from conf/, and the committed copy must agree."""
    from dvc.utils.hydra import compose_and_dump

    fresh = tmp_path / "params.yaml"
    compose_and_dump(fresh, str(PROJECT_ROOT / "conf"), None, "train", str(tmp_path), [])
    committed = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    assert committed == yaml.safe_load(fresh.read_text()), "params.yaml is stale: `make params` rewrites it from conf/"


def test_multirun_checks_every_swept_value_before_starting(tmp_path):
    done = drivelab("train", "-m", "model=mlp,nope", f"paths.runs_dir={tmp_path}", check=False)
    assert done.returncode == 2 and "'nope' is not an option of config group 'model'" in done.stderr
    assert list(tmp_path.iterdir()) == []
