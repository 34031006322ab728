"""Train/val/test assignment, never window by window: windows of one vehicle overlap and would leak.

- `recording` (the default): whole recordings go to one split each; needs at least three recordings.
- `time`: every recording is cut into three contiguous time blocks, train first, then val, then test (later traffic
  is predicted from earlier traffic, as in use), with a guard gap of one window length (history + future) between
  blocks. A window belongs to a block only if its whole span (history start to future end) lies inside it, so no
  two windows of different splits share a moment, and one recording is enough.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np

from drivelab.errors import DrivelabError

SPLIT_BY = ("recording", "time")
TIME_ORDER = ("train", "val", "test")  # chronological order of the blocks of a time split


def check_split(split_by: str, val_fraction: float, test_fraction: float) -> None:
    if split_by not in SPLIT_BY:
        raise DrivelabError(f"windows.split.by={split_by!r} is not a split; choose one of: {', '.join(SPLIT_BY)}")
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise DrivelabError(f"windows.split fractions must be in (0, 1) and sum below 1, got val={val_fraction} test={test_fraction}")


def split_recordings(recording_ids: Sequence[str], val_fraction: float, test_fraction: float, seed: int) -> Dict[str, List[str]]:
    ids = sorted(recording_ids)
    if len(ids) < 3:
        raise DrivelabError(f"need at least 3 recordings to split into train/val/test, got {len(ids)}: {ids}; "
                            "with fewer, split each recording in time (windows.split.by=time)")
    check_split("recording", val_fraction, test_fraction)
    order = np.random.default_rng(seed).permutation(len(ids))
    n_test = max(1, int(round(test_fraction * len(ids))))
    n_val = max(1, int(round(val_fraction * len(ids))))
    n_test = min(n_test, len(ids) - 2)
    n_val = min(n_val, len(ids) - n_test - 1)
    shuffled = [ids[i] for i in order]
    return {
        "test": sorted(shuffled[:n_test]),
        "val": sorted(shuffled[n_test : n_test + n_val]),
        "train": sorted(shuffled[n_test + n_val :]),
    }


def time_blocks(start_s: float, end_s: float, val_fraction: float, test_fraction: float,
                guard_s: float) -> Dict[str, Tuple[float, float]]:
    """The train, val and test blocks ([start, end] in seconds) of a recording spanning `start_s`..`end_s`, in that
    order, `guard_s` apart; the time left after the two gaps is shared by the fractions."""
    usable_s = (end_s - start_s) - 2 * guard_s
    shares = {"train": 1 - val_fraction - test_fraction, "val": val_fraction, "test": test_fraction}
    if min(shares.values()) * usable_s < guard_s:  # the guard gap is one window length: a block must hold a window
        raise ValueError(f"{end_s - start_s:.1f} s of windows is too short: after two guard gaps of {guard_s:g} s, "
                         f"each block (train, val, test) needs at least one window length ({guard_s:g} s)")
    blocks, begin = {}, start_s
    for split in TIME_ORDER:
        finish = end_s if split == TIME_ORDER[-1] else begin + shares[split] * usable_s
        blocks[split] = (begin, finish)
        begin = finish + guard_s
    return blocks


def split_by_time(present_s: np.ndarray, history_s: float, future_s: float, val_fraction: float,
                  test_fraction: float, frame_s: float = 0.0) -> Tuple[Dict[str, np.ndarray], Dict[str, Tuple[float, float]]]:
    """Per split, the indices of the windows (present times `present_s`) whose whole span lies inside its time block,
    and the blocks. `frame_s` widens each span by the source's frame duration, for rates where the present time is
    known only to the preceding source frame."""
    starts, ends = present_s - history_s, present_s + future_s + frame_s
    if len(present_s) == 0:
        return {split: np.zeros(0, np.int64) for split in TIME_ORDER}, {}
    blocks = time_blocks(float(starts.min()), float(ends.max()), val_fraction, test_fraction,
                         guard_s=history_s + future_s)
    chosen = {split: np.flatnonzero((starts >= low - 1e-9) & (ends <= high + 1e-9)) for split, (low, high) in blocks.items()}
    return chosen, blocks
