"""Train/val/test assignment by recording, never by window: windows of one vehicle overlap and would leak."""

from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np

from drivelab.errors import DrivelabError


def split_recordings(recording_ids: Sequence[str], val_fraction: float, test_fraction: float, seed: int) -> Dict[str, List[str]]:
    ids = sorted(recording_ids)
    if len(ids) < 3:
        raise DrivelabError(f"need at least 3 recordings to split into train/val/test, got {len(ids)}: {ids}")
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise DrivelabError(f"windows.split fractions must be in (0, 1) and sum below 1, got val={val_fraction} test={test_fraction}")
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
