"""Training does not hold the data set in memory: one epoch on a data version 4x larger raises the peak anonymous
memory (RssAnon; memory-mapped shards are file-backed and do not count) by far less than the extra windows.
`benchmarks/large_data.py` shows the same at several times a memory limit."""

import json
import subprocess
import sys
import textwrap

import pytest

from conftest import PROJECT_ROOT, cli_env
from drivelab.data.windows.build import build
from track_tables import write_platoons
from window_specs import default_spec

pytestmark = pytest.mark.slow

SHARD_MB = 4
SPLIT = {"val_fraction": 0.1, "test_fraction": 0.1, "seed": 0}
# One epoch with validation in a fresh process; the peak is measured from after the imports and the config.
PROBE = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from drivelab.config.validate import compose
    from drivelab.resources import PeakRssAnon
    from drivelab.runs.training import train

    data_dir, run_dir = Path(sys.argv[1]), Path(sys.argv[2])
    cfg = compose("train", [f"paths.data_dir={data_dir}", "model=mlp", "trainer.max_epochs=1", "logger=none",
                            "test_after_fit=false", "trainer.enable_progress_bar=false",
                            "trainer.enable_model_summary=false"])
    with PeakRssAnon() as peak:
        train(cfg, run_dir)
    print(json.dumps({"growth": peak.peak_bytes - peak.start_bytes}))
""")


def _train_growth(tmp_path, recordings: int) -> tuple[int, int]:
    """(peak RssAnon growth while training one epoch, bytes of training windows) for `recordings` recordings."""
    data_dir = tmp_path / f"data_{recordings}"
    write_platoons(data_dir, recordings, lanes=3, vehicles_per_lane=8, duration_s=60)
    build(data_dir / "tracks", data_dir / "windows", default_spec(), SPLIT, SHARD_MB * 2**20, 1)
    done = subprocess.run([sys.executable, "-c", PROBE, str(data_dir), str(tmp_path / f"run_{recordings}")],
                          capture_output=True, text=True, env=cli_env(), timeout=600, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    train_bytes = sum(path.stat().st_size for path in (data_dir / "windows" / "train").rglob("*.npy"))
    return json.loads(done.stdout.strip().splitlines()[-1])["growth"], train_bytes


def test_one_epoch_on_four_times_the_windows_needs_about_the_same_memory(tmp_path):
    small_growth, small_bytes = _train_growth(tmp_path, 6)
    large_growth, large_bytes = _train_growth(tmp_path, 24)
    extra_bytes = large_bytes - small_bytes
    assert extra_bytes > 10 * SHARD_MB * 2**20  # the larger version spans many more shards
    # Holding the training split (or a copy per epoch) would add at least extra_bytes; what does grow with the data
    # (the epoch's order, allocator slack) stays well below half of it, also on a busy machine.
    assert large_growth - small_growth < extra_bytes / 2, (small_growth, large_growth, extra_bytes)
