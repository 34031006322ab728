"""One source of truth for defaults, every Lightning Trainer argument typed, and overrides that would do nothing refused."""

import dataclasses

import pytest
import yaml
from omegaconf import MISSING, OmegaConf

from conftest import drivelab
from drivelab.config import generate, schema
from drivelab.config.generated import MODEL_SCHEMAS, TrainerConfig
from drivelab.config.validate import ConfigError, compose, conf_dir

HAND_WRITTEN = [(command, cls) for command, cls in schema.COMMAND_SCHEMAS.items()]
NOT_DEFAULTS = {"optimizer", "scheduler", "_target_"}  # what to build, not a value with a default


def test_generated_schemas_match_the_installed_lightning_and_the_models_code():
    assert generate.OUTPUT.read_text() == generate.render(), "run `python -m drivelab.config.generate`"


def test_the_trainer_yaml_sets_every_trainer_argument_a_config_may_set():
    listed = set(yaml.safe_load((conf_dir() / "trainer" / "default.yaml").read_text()))
    assert listed == {field.name for field in dataclasses.fields(TrainerConfig)}


def test_any_trainer_argument_works_from_the_command_line_typed():
    cfg = compose("train", ["trainer.val_check_interval=0.5", "trainer.max_steps=100", "trainer.max_time=00:00:10:00",
                            "trainer.fast_dev_run=true", "trainer.benchmark=false", "trainer.limit_val_batches=0"])
    assert cfg.trainer.val_check_interval == 0.5 and cfg.trainer.max_steps == 100
    with pytest.raises(ConfigError, match="trainer.max_steps"):
        compose("train", ["trainer.max_steps=many"])


def _leaves(node, prefix=""):
    if dataclasses.is_dataclass(node):
        for field in dataclasses.fields(node):
            value = getattr(node, field.name)
            yield from _leaves(value, f"{prefix}{field.name}.")
    else:
        yield prefix[:-1], node


@pytest.mark.parametrize("command,command_schema", HAND_WRITTEN)
def test_hand_written_schemas_hold_no_default_of_their_own(command, command_schema):
    """Values come from conf/ alone: a schema default would be a second place that can drift from the YAML."""
    instance = command_schema()
    composed = OmegaConf.to_container(compose(command), resolve=False)
    for key, default in _leaves(instance):
        if key.startswith("trainer.") or isinstance(default, (dict, list)) or default is None:
            continue
        assert default == MISSING, f"{command}: {key} has a schema default ({default!r}); set it in conf/ instead"
        node = composed
        for part in key.split("."):
            assert part in node, f"{command}: conf/ does not set {key}"
            node = node[part]


def _primary_model_options():
    """Model options that are a model's own config (not a variant that starts from another option)."""
    for path in sorted((conf_dir() / "model").glob("*.yaml")):
        text = yaml.safe_load(path.read_text())
        if "defaults" not in text:
            yield path.stem, text


@pytest.mark.parametrize("option,values", list(_primary_model_options()))
def test_model_code_defaults_equal_the_yaml_a_user_reads(option, values):
    model_schema = MODEL_SCHEMAS[values["_target_"]]
    defaults = OmegaConf.to_container(OmegaConf.structured(model_schema))
    for key, value in values.items():
        if key in NOT_DEFAULTS or isinstance(value, str) and value.startswith("${"):
            continue
        assert defaults[key] == value, f"conf/model/{option}.yaml sets {key}={value!r}, the code {defaults[key]!r}"


@pytest.mark.parametrize("override", ["windows.history_s=5", "simulate.episodes=3", "source=highd",
                                      "clean.max_jump_m=1", "+windows.extra=1"])
def test_train_refuses_data_preparation_overrides_naming_the_owner(override, tmp_path):
    done = drivelab("train", override, f"paths.runs_dir={tmp_path}", check=False)
    assert done.returncode == 2
    assert "belongs to data preparation" in done.stderr and "drivelab" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("command", ["eval", "sweep"])
def test_eval_and_sweep_refuse_them_too(command):
    with pytest.raises(ConfigError, match="belongs to data preparation"):
        compose(command, ["windows.history_s=5"])


def test_an_appended_key_nothing_reads_is_refused(tmp_path):
    done = drivelab("train", "+foo=1", f"paths.runs_dir={tmp_path}", check=False)
    assert done.returncode == 2 and "unknown key 'foo'" in done.stderr
    with pytest.raises(ConfigError, match="unknown key 'model.foo'"):
        compose("train", ["+model.foo=3"])


def test_prepare_still_takes_data_settings():
    assert compose("prepare", ["windows.history_s=2"]).windows.history_s == 2
