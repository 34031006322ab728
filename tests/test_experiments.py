"""Ideas under experiments/ plug in without touching lib/ or conf/, from any working directory, and none rots."""

import shutil

import pytest

from conftest import PROJECT_ROOT, cli_env, drivelab, read_json
from drivelab.config.registry import instantiate
from drivelab.config.validate import compose, conf_dir

IDEAS = sorted(path.parent.name for path in (PROJECT_ROOT / "experiments").glob("*/experiment.yaml"))
LIBRARY_OPTIONS = sorted(path.stem for path in (conf_dir() / "experiment").glob("*.yaml"))


def test_at_least_three_ideas_ship_and_some_bring_their_own_code():
    assert len(IDEAS) >= 3
    assert any((PROJECT_ROOT / "experiments" / idea / "model.py").is_file() for idea in IDEAS)


def test_an_idea_is_an_option_of_the_experiment_group():
    cfg = compose("train", ["experiment=neighbour_attention"])
    assert cfg.model._target_ == "experiments.neighbour_attention.model.NeighbourAttention"


def test_idea_code_is_instantiated_through_the_allowlist():
    from experiments.neighbour_attention.model import NeighbourAttention

    from test_models import SHAPES

    cfg = compose("train", ["experiment=neighbour_attention"])
    model = instantiate(cfg.model, _recursive_=False, _convert_="all", shapes=SHAPES)
    assert isinstance(model, NeighbourAttention)


def test_ideas_are_found_from_any_working_directory(tmp_path):
    done = drivelab("train", "--cfg", "job", "experiment=horizon_weighted_loss", cwd=tmp_path)
    assert "experiments.horizon_weighted_loss.model.HorizonWeightedMLP" in done.stdout


def test_a_new_idea_folder_is_picked_up_beside_any_conf_folder(tmp_path):
    """Hydra looks for ideas in the experiments/ folder beside the conf/ in use: adding a folder is all it takes."""
    shutil.copytree(conf_dir(), tmp_path / "conf")
    idea = tmp_path / "experiments" / "wider_mlp"
    idea.mkdir(parents=True)
    (idea / "experiment.yaml").write_text("# @package _global_\ndefaults:\n  - override /model: mlp\n"
                                          "model:\n  hidden_size: 1024\n")
    done = drivelab("train", "--cfg", "job", "experiment=wider_mlp", cwd=tmp_path,
                    env=cli_env(DRIVELAB_CONF_DIR=str(tmp_path / "conf")))
    assert "hidden_size: 1024" in done.stdout


def test_an_unknown_idea_lists_the_options(tmp_path):
    done = drivelab("train", "experiment=no_such_idea", f"paths.runs_dir={tmp_path}", check=False)
    assert done.returncode == 2
    assert all(name in done.stderr for name in IDEAS)


@pytest.mark.slow
def test_every_experiment_option_trains_with_debug_fast(sim_data_dir, tmp_path):
    drivelab("train", "-m", "experiment=glob(*)", "debug=fast", f"paths.data_dir={sim_data_dir}",
             f"paths.runs_dir={tmp_path}")
    manifests = [read_json(path) for path in tmp_path.rglob("manifest.json")]
    assert len(manifests) == len(IDEAS) + len(LIBRARY_OPTIONS)
    assert all(manifest["status"] == "completed" and manifest["metrics"] for manifest in manifests)
