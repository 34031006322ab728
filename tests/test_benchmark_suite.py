"""The benchmark suite's bookkeeping: goals, the regression check and the record, on made-up figures (no timing)."""

from __future__ import annotations

import json
import sys

import pytest

from conftest import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))

import suite  # noqa: E402


def figure(name: str, ratio: float, better: str = "lower", goal: float | None = 1.05) -> dict:
    return {"name": name, "what": name, "ratio": ratio, "goal": goal, "better": better, "raw": {"seconds": 1.0}}


def test_meets_goal_follows_the_direction_of_the_figure():
    assert suite.meets_goal(figure("step", 1.04)) is True
    assert suite.meets_goal(figure("step", 1.06)) is False
    assert suite.meets_goal(figure("loader", 0.85, better="higher", goal=0.8)) is True
    assert suite.meets_goal(figure("loader", 0.75, better="higher", goal=0.8)) is False
    assert suite.meets_goal(figure("cost", 3.0, goal=None)) is None


def test_a_ratio_worse_by_more_than_the_margin_is_a_regression_in_either_direction():
    recorded = [figure("step", 1.00), figure("loader", 1.00, better="higher")]
    assert suite.regressions([figure("step", 1.09), figure("loader", 0.91, better="higher")], recorded, 0.10) == []
    worse = suite.regressions([figure("step", 1.11), figure("loader", 0.89, better="higher")], recorded, 0.10)
    assert [line.split(":")[0] for line in worse] == ["step", "loader"]
    assert "recorded 1x" in worse[0] and "margin 10%" in worse[0]


def test_a_better_ratio_and_figures_only_one_side_has_are_not_regressions():
    recorded = [figure("step", 1.20), figure("gone", 1.0)]
    assert suite.regressions([figure("step", 1.01), figure("new", 9.0)], recorded, 0.05) == []


def test_a_figure_without_its_fields_or_with_an_unknown_direction_is_refused():
    with pytest.raises(ValueError, match="lacks"):
        suite.check_figure({"name": "x", "ratio": 1.0}, "bench")
    with pytest.raises(ValueError, match="better='faster'"):
        suite.check_figure(figure("x", 1.0, better="faster"), "bench")


def test_every_timing_benchmark_is_found_and_the_accuracy_benchmark_is_not():
    names = suite.benchmark_names()
    assert {"training_step", "data_loading", "config_commands", "run_overhead", "windowing", "pipeline",
            "sweep_workers"} <= set(names)
    assert "model_quality" not in names and "suite" not in names
    assert "model_quality" in suite.scripts_outside_the_suite() and "suite" not in suite.scripts_outside_the_suite()


def test_check_exits_1_on_a_regression_and_the_record_holds_goal_machine_and_command(tmp_path, monkeypatch):
    monkeypatch.setattr(suite, "benchmark_names", lambda: ["fake"])
    monkeypatch.setattr(suite, "run_one", lambda name, quick: [suite.check_figure(figure("step", 1.30), name)])
    recorded = tmp_path / "recorded.json"
    recorded.write_text(json.dumps({"figures": [figure("step", 1.00)]}))
    out = tmp_path / "docs"
    assert suite.main(["--quick", "--out", str(out), "--check", str(recorded), "--margin", "0.2"]) == 1
    record = json.loads((out / "benchmarks.json").read_text())
    (written,) = record["figures"]
    assert written["meets_goal"] is False and written["goal"] == 1.05 and written["raw"] == {"seconds": 1.0}
    assert written["machine"]["cores"] and written["command"].endswith("--only fake --quick")
    assert "| fake | step | 1.300x | <= 1.05x | **no** |" in (out / "benchmarks.md").read_text()
    assert suite.main(["--quick", "--no-write", "--check", str(recorded), "--margin", "0.5"]) == 0
