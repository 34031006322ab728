"""Slices of the test windows where models tend to differ: who changes lane, who brakes, how dense the traffic is.

Each slice is a boolean mask computed from a batch alone (no labels beyond the window itself), so the same
definition serves every task and every data source.
"""

from __future__ import annotations

from typing import Dict

import torch

from drivelab.data.windows.batch import Batch
from drivelab.data.windows.extract import lanes_known

BRAKING_SPEED_RATIO = 0.8  # braking: the speed over some future second falls below this share of the present speed
DENSE_MIN_NEIGHBOURS = 4  # dense: at least this many neighbours present within DENSE_RADIUS_M ...
DENSE_RADIUS_M = 50.0  # fixed, so that the slice does not move with the windows' (wider) neighbour radius
DENSE_MAX_HEADWAY_S = 1.5  # ... or a time headway to the vehicle ahead in the own lane below this
LANE_HALF_WIDTH_M = 1.75  # a neighbour within this lateral offset is in the target's lane

SLICE_DEFINITIONS: Dict[str, str] = {
    "all": "every test window",
    "lane_change": "the target changes lane within the predicted future (windows with known lanes only)",
    "lane_keep": "the target keeps its lane over the predicted future (windows with known lanes only)",
    "braking": f"the target's speed over some future second drops below {BRAKING_SPEED_RATIO} x its present speed",
    "dense": f">= {DENSE_MIN_NEIGHBOURS} neighbours present within {DENSE_RADIUS_M:.0f} m or a time headway below "
             f"{DENSE_MAX_HEADWAY_S} s "
             "to the vehicle ahead in the own lane",
    "free_flow": "not dense",
}


def future_speeds_mps(batch: Batch, sample_hz: int) -> torch.Tensor:
    """Mean speed over every one-second span of the future (starting at the present), (batch, future_steps - hz + 1).
    Averaging over a second keeps position noise of real data from faking a speed drop."""
    future = batch["future"]
    path = torch.cat([torch.zeros_like(future[:, :1]), future], dim=1)  # the present position is the origin
    return torch.linalg.vector_norm(path[:, sample_hz:] - path[:, :-sample_hz], dim=-1)


def time_headway_s(batch: Batch) -> torch.Tensor:
    """Distance to the nearest present neighbour ahead in the own lane over the target's speed; inf without one."""
    present = batch["neighbour_mask"][:, :, -1]
    now = batch["neighbours"][:, :, -1]  # (batch, slots, features): x, y relative to the target
    ahead = present & (now[..., 0] > 0) & (now[..., 1].abs() < LANE_HALF_WIDTH_M)
    gap_m = torch.where(ahead, now[..., 0], torch.full_like(now[..., 0], float("inf"))).amin(dim=1)
    speed_mps = batch["history"][:, -1, 2].clamp(min=1.0)
    return gap_m / speed_mps


def slice_masks(batch: Batch, sample_hz: int) -> Dict[str, torch.Tensor]:
    """Every slice's (batch,) bool mask, in the order of `SLICE_DEFINITIONS`."""
    lane_change = batch["lane_change"].bool()
    # Without known lanes (e.g. INTERACTION) a window is in neither lane slice: "no change seen" is not "kept".
    known = lanes_known(batch["lane"]) if "lane" in batch else torch.ones_like(lane_change)
    present_speed = torch.linalg.vector_norm(batch["history"][:, -1, 2:4], dim=-1)
    braking = future_speeds_mps(batch, sample_hz).amin(dim=1) < BRAKING_SPEED_RATIO * present_speed
    distance_m = torch.linalg.vector_norm(batch["neighbours"][:, :, -1, :2], dim=-1)
    neighbours_now = (batch["neighbour_mask"][:, :, -1] & (distance_m <= DENSE_RADIUS_M)).sum(dim=1)
    dense = (neighbours_now >= DENSE_MIN_NEIGHBOURS) | (time_headway_s(batch) < DENSE_MAX_HEADWAY_S)
    return {
        "all": torch.ones_like(lane_change),
        "lane_change": lane_change & known,
        "lane_keep": ~lane_change & known,
        "braking": braking,
        "dense": dense,
        "free_flow": ~dense,
    }
