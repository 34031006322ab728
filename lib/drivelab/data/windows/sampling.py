"""Which windows go into which batch: whole index arrays per batch (no per-window Python work), the same order in
one process and under DDP, and every window exactly once per epoch across ranks (no padded duplicates).

The order of an epoch is `torch.randperm(n)` from a generator seeded with `seed + epoch`, as PyTorch's
`DistributedSampler` draws it (its `seed` is Lightning's global seed, `PL_GLOBAL_SEED`). Under DDP the epoch's order
is cut into global batches of `batch_size x ranks` windows and each rank takes every ranks-th window of each, so a
DDP run with per-rank batch B steps through the same global batches as one process with batch B x ranks. A last
global batch with fewer windows than ranks joins the batch before it, so that no rank ever gets an empty batch.
"""

from __future__ import annotations

import os
from typing import Iterator, Optional, Sized

import numpy as np
import torch
from torch.utils.data import BatchSampler, DistributedSampler, RandomSampler, Sampler


class ShuffledOrder(RandomSampler):
    """A new order each epoch (`set_epoch`, which Lightning calls), seeded like `DistributedSampler`."""

    def __init__(self, data_source: Sized, seed: Optional[int] = None) -> None:
        super().__init__(data_source)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        return iter(epoch_order(len(self.data_source), True, _seed(self.seed), self.epoch).tolist())


def epoch_order(length: int, shuffle: bool, seed: int, epoch: int) -> np.ndarray:
    if not shuffle:
        return np.arange(length, dtype=np.int64)
    generator = torch.Generator().manual_seed(seed + epoch)
    return torch.randperm(length, generator=generator).numpy()


def _seed(seed: Optional[int]) -> int:
    return int(os.getenv("PL_GLOBAL_SEED", 0)) if seed is None else int(seed)


class WindowBatches(BatchSampler):
    """Batches as index arrays. `sampler` says the order: a `ShuffledOrder` (shuffled), any other sampler (in
    order), or the `DistributedSampler` Lightning puts in its place under DDP (its rank, ranks, shuffle, seed and
    epoch are used; its padding is not)."""

    def __init__(self, sampler: Sampler, batch_size: int, drop_last: bool = False) -> None:
        super().__init__(sampler, batch_size, drop_last)
        self._resume: Optional[tuple] = None

    def resume_at(self, epoch: int, batches_done: int) -> None:
        """The next pass is epoch `epoch` from its batch `batches_done` on: a run resumed part-way into an epoch
        sees exactly the batches an uninterrupted run would have seen. Later passes are whole epochs."""
        self._resume = (int(epoch), int(batches_done))

    def _plan(self):
        sampler = self.sampler
        if isinstance(sampler, DistributedSampler):
            return (len(sampler.dataset), sampler.shuffle, sampler.seed, sampler.epoch, sampler.rank,
                    sampler.num_replicas)
        if isinstance(sampler, ShuffledOrder):
            return len(sampler.data_source), True, _seed(sampler.seed), sampler.epoch, 0, 1
        return len(sampler), False, 0, 0, 0, 1

    def __iter__(self) -> Iterator[np.ndarray]:
        skip = 0
        if self._resume is not None:
            epoch, skip = self._resume
            self._resume = None
            if hasattr(self.sampler, "set_epoch"):
                self.sampler.set_epoch(epoch)
        length, shuffle, seed, epoch, rank, ranks = self._plan()
        if ranks > length:
            raise ValueError(f"{length} windows cannot be shared by {ranks} ranks")
        order = epoch_order(length, shuffle, seed, epoch)
        for index, (start, stop) in enumerate(self._global_batches(length, ranks)):
            if index >= skip:
                yield order[start:stop][rank::ranks]

    def _global_batches(self, length: int, ranks: int):
        size = self.batch_size * ranks
        stops = list(range(size, length, size)) + [length]
        if self.drop_last and length % size:
            stops = stops[:-1]
        elif len(stops) > 1 and stops[-1] - stops[-2] < ranks:
            stops.pop(-2)  # too few windows left for every rank: they join the batch before
        return zip([0, *stops[:-1]], stops)

    def __len__(self) -> int:
        length, _, _, _, _, ranks = self._plan()
        return len(list(self._global_batches(length, ranks)))
