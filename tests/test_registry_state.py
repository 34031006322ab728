"""Registry state read from GTO tags (a bare git repository, no model needed), and the prediction table's layout."""

import numpy as np
import pytest

from conftest import run_in_repo
from drivelab.errors import DrivelabError
from drivelab.predict.replay import prediction_table
from drivelab.registry import promote
from drivelab.registry.state import read_state, resolve


@pytest.fixture
def versions(tmp_path):
    """trajectory v0.0.1 and v0.0.2 on two commits of a repository with stages staging and prod."""
    import gto.api

    run_in_repo(tmp_path, "git", "init", "-q")
    run_in_repo(tmp_path, "git", "config", "user.name", "Rita Reviewer")
    run_in_repo(tmp_path, "git", "config", "user.email", "rita@example.org")
    (tmp_path / ".gto").write_text("stages: [staging, prod]\n")
    for version in ("v0.0.1", "v0.0.2"):
        (tmp_path / "model.txt").write_text(version)
        run_in_repo(tmp_path, "git", "add", "-A")
        run_in_repo(tmp_path, "git", "commit", "-qm", version)
        gto.api.register(str(tmp_path), "trajectory", "HEAD", version=version, message=version)
    return tmp_path


def test_stage_events_made_in_the_same_second_are_ordered_by_their_counter(versions):
    import gto.api

    gto.api.assign(str(versions), "trajectory", "prod", version="v0.0.1", message="first")
    gto.api.assign(str(versions), "trajectory", "prod", version="v0.0.2", message="second")
    assert resolve(versions, "trajectory@prod").version == "v0.0.2"
    previous, target = promote.rollback(versions, "trajectory", "prod", "regression")
    assert (previous.version, target.version) == ("v0.0.2", "v0.0.1")
    assert resolve(versions, "trajectory@prod").version == "v0.0.1"
    demoted, now = promote.demote(versions, "trajectory", "prod", "hand prod back")
    assert demoted.version == "v0.0.1" and now.version == "v0.0.2"  # GTO: the stage returns to the version before
    state = read_state(versions, "trajectory")
    assert [event.counter for event in state.events] == sorted(event.counter for event in state.events)
    assert state.versions["v0.0.2"].stages == ["prod"] and state.versions["v0.0.1"].stages == []


def test_references_that_name_nothing_are_one_line_errors(versions):
    for reference, message in (("trajectory", "NAME@STAGE"), ("trajectory@prod", "no version of trajectory is in"),
                               ("trajectory@v9.9.9", "has no version v9.9.9"), ("other@prod", "no model 'other'")):
        with pytest.raises(DrivelabError, match=message):
            resolve(versions, reference)
    with pytest.raises(DrivelabError, match="choose one of staging, prod"):
        promote.rollback(versions, "trajectory", "qa", "why")


def test_prediction_table_has_a_row_per_window_and_step_with_mode_probabilities_and_errors():
    windows, steps = 3, 4
    rng = np.random.default_rng(0)
    batch = {"recording_name": np.array(["a", "a", "b"], dtype=object), "track_id": np.array([7, 8, 9]),
             "frame": np.array([10, 20, 30]), "future": rng.normal(size=(windows, steps, 2)).astype(np.float32)}
    positions = rng.normal(size=(windows, steps, 2)).astype(np.float32)
    probabilities = np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]], np.float32)
    table = prediction_table(batch, {"positions": positions, "mode_probabilities": probabilities}, sample_hz=2)
    assert table.num_rows == windows * steps
    rows = table.to_pylist()
    assert [row["horizon_s"] for row in rows[:steps]] == [0.5, 1.0, 1.5, 2.0]
    last = rows[-1]
    assert (last["recording"], last["vehicle_id"], last["frame"]) == ("b", 9, 30)
    assert last["mode_1_probability"] == pytest.approx(0.8) and last["x_m"] == pytest.approx(positions[2, 3, 0])
    assert last["error_m"] == pytest.approx(float(np.linalg.norm(positions[2, 3] - batch["future"][2, 3])), rel=1e-5)


def test_a_dirty_tree_is_refused_naming_every_changed_file_in_full(versions):
    from drivelab.registry.repository import check_clean

    (versions / "model.txt").write_text("edited")
    (versions / "notes.txt").write_text("mine")
    with pytest.raises(DrivelabError, match=r"not clean \(model\.txt, notes\.txt\)"):
        check_clean(versions)
