"""Building and loading a data set many times the shard size keeps anonymous memory (RssAnon: heap, not the
file-backed pages of memory maps that RSS also counts) bounded by the shard size, not by the data set."""

import json
import subprocess
import sys
import textwrap

import pytest

from conftest import PROJECT_ROOT, cli_env

pytestmark = pytest.mark.slow

SHARD_MB = 4
# Measured in a fresh process: a warm-up build first (imports, allocator pools), then the peak RssAnon over the
# baseline, sampled every 2 ms by a thread, while building 24 recordings (~77 MiB of windows, ~64 MiB in train)
# and while gathering every training window once in shuffled batches of 256.
PROBE = textwrap.dedent("""
    import json, sys, threading, time
    from pathlib import Path
    import numpy as np
    sys.path.insert(0, sys.argv[3])
    from track_tables import write_platoons
    from drivelab.data.windows import store
    from drivelab.data.windows.build import build
    from window_specs import default_spec

    def rss_anon():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("RssAnon:"))

    class Peak(threading.Thread):
        # The lock keeps a sample taken before a restart from carrying the old phase's peak into the next one.
        def __init__(self):
            super().__init__(daemon=True)
            self.lock = threading.Lock()
            self.peak = rss_anon()
        def run(self):
            while True:
                with self.lock:
                    self.peak = max(self.peak, rss_anon())
                time.sleep(0.002)
        def restart(self):
            with self.lock:
                peak, self.peak = self.peak, rss_anon()
            return peak

    data_dir, shard_bytes = Path(sys.argv[1]), int(float(sys.argv[2]) * 2**20)
    # The bounds below are in shards for windows of 8 neighbour slots (the recording being windowed scales with them).
    split, spec = {"val_fraction": 0.1, "test_fraction": 0.1, "seed": 0}, default_spec(max_neighbours=8)
    write_platoons(data_dir / "warm", 3, lanes=3, vehicles_per_lane=8, duration_s=60)
    build(data_dir / "warm" / "tracks", data_dir / "warm" / "windows", spec, split, shard_bytes, 1)
    write_platoons(data_dir, 24, lanes=3, vehicles_per_lane=8, duration_s=60)
    peak = Peak()
    before_build = rss_anon()
    peak.start()
    info = build(data_dir / "tracks", data_dir / "windows", spec, split, shard_bytes, 1)
    build_peak = peak.restart()
    train = store.open_split(data_dir / "windows", "train")
    order = np.random.default_rng(0).permutation(len(train))
    before_load = rss_anon()
    peak.restart()
    for start in range(0, len(order), 256):
        batch = train.gather(np.sort(order[start:start + 256]))
        assert len(batch["history"]) == len(order[start:start + 256])
    load_peak = peak.restart()
    train_bytes = sum(path.stat().st_size for path in (data_dir / "windows" / "train").rglob("*.npy"))
    print(json.dumps({"build_growth": build_peak - before_build, "load_growth": load_peak - before_load,
                      "train_bytes": train_bytes, "train_shards": info["splits"]["train"]["shards"]}))
""")


def test_building_and_loading_hold_about_a_shard_of_windows_not_the_data_set(tmp_path):
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path), str(SHARD_MB), str(PROJECT_ROOT / "tests")],
                          capture_output=True, text=True, env=cli_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    shard, mib = SHARD_MB * 2**20, 2**20
    assert measured["train_bytes"] > 12 * shard and measured["train_shards"] >= 12  # many times the shard size
    # Pending windows (below one shard) plus the recording being windowed and the statistics' float64 copies;
    # holding the split in memory would need the whole train_bytes (~64 MiB) and more.
    assert measured["build_growth"] < 6 * shard + 8 * mib, measured
    assert measured["build_growth"] < measured["train_bytes"] / 2, measured
    assert measured["load_growth"] < shard, measured


def test_windows_go_straight_to_their_shard_files_not_to_a_buffer(tmp_path):
    # One shard bigger than the whole data set: a writer that buffered until its shard was full would hold it all
    # (measured: 85 MB of growth for 67 MB of training windows; written straight to the files, ~16 MB, the recording
    # being windowed and the statistics' copies, as with 4 MiB shards).
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path), "256", str(PROJECT_ROOT / "tests")],
                          capture_output=True, text=True, env=cli_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert measured["train_shards"] == 1 and measured["train_bytes"] > 48 * 2**20
    assert measured["build_growth"] < measured["train_bytes"] / 2, measured
