"""One episode of heterogeneous highway traffic simulated by Eclipse SUMO (`simulate.backend=sumo`).

The optional extra `sumo` (`pip install -e '.[sumo]'`) brings SUMO's own binaries (the `eclipse-sumo` wheel), so this
runs offline. A straight road of `lanes` 4 m lanes is built once per process with netconvert; every vehicle gets a
vType of its own (IDM car following with its own time gap, jam gap, accelerations and exponent; LC2013 lane changing
with its own eagerness, cooperation and keep-right urge), departs at time 0 at a time gap behind the next vehicle in
its lane, and sumo logs every vehicle at every step (floating car data). The result is the same table as the
highway-env backend's (`drivelab.sim.episode_table`), so the same highD writer turns it into a recording.
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from drivelab.sim.episode_table import episode_table

LANE_WIDTH_M = 4.0  # the highD writer's lane width
EDGE_ID = "road"
CAR_LENGTH_M, CAR_WIDTH_M = 5.0, 2.0
TRUCK_LENGTH_RANGE_M, TRUCK_WIDTH_M = (12.0, 16.0), 2.5
TRUCK_SPEED_SHARE = 0.3  # trucks draw their target speed from the slowest part of the speed range
SPAWN_START_M = 60.0
LANE_CHANGE_S = 4.0  # a lane change moves sideways over this long, as on real highways (SUMO's default is instant)


def sumo_binary(name: str) -> str:
    """Path of a SUMO program (`sumo`, `netconvert`) from the eclipse-sumo wheel or SUMO_HOME."""
    import sumolib

    return sumolib.checkBinary(name)


def simulate_episode(
    seed: int,
    duration_s: float = 40.0,
    sample_hz: int = 10,
    lanes: int = 3,
    vehicles: int = 20,
    speed_range_mps: Sequence[float] = (18.0, 34.0),
    randomize_behavior: bool = True,
    truck_fraction: float = 0.1,
    road_length_m: float = 2500.0,
) -> pd.DataFrame:
    """Simulate one episode with SUMO; one row per (vehicle, step), sorted by vehicle_id then frame.

    Vehicles whose front reaches the road end leave the road, so their tracks end early.
    """
    rng = np.random.default_rng(seed)
    fleet = _draw_fleet(rng, lanes, vehicles, speed_range_mps, randomize_behavior, truck_fraction)
    if (fleet["front_m"] >= road_length_m).any():
        raise ValueError(f"road_length_m={road_length_m} is too short to place {vehicles} vehicles on {lanes} lanes")
    n_frames = int(round(duration_s * sample_hz))
    dt_s = 1.0 / sample_hz
    with tempfile.TemporaryDirectory(prefix="drivelab-sumo-") as scratch:
        scratch = Path(scratch)
        (scratch / "road.net.xml").write_text(_network_xml(lanes, float(road_length_m)))
        (scratch / "fleet.rou.xml").write_text(_routes_xml(fleet, lanes))
        command = [
            sumo_binary("sumo"), "--net-file", "road.net.xml", "--route-files", "fleet.rou.xml",
            "--step-length", repr(dt_s), "--end", repr(n_frames * dt_s), "--seed", str(int(seed) % 2**31),
            "--lanechange.duration", str(LANE_CHANGE_S), "--time-to-teleport", "-1", "--collision.action", "warn",
            "--fcd-output", "fcd.xml", "--fcd-output.attributes", "x,y,lane", "--precision", "4",
            "--no-step-log", "true", "--no-warnings", "true",
        ]
        done = subprocess.run(command, cwd=scratch, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"sumo exited {done.returncode}: {done.stderr.strip()[-500:]}")
        x_front, y_net, sumo_lane = _read_fcd(scratch / "fcd.xml", n_frames, vehicles, sample_hz)

    lengths = fleet["length_m"].to_numpy()
    # SUMO logs the front bumper; lanes lie right of the edge line (y < 0), its lane 0 being the rightmost.
    x = x_front - lengths[None, :] / 2
    y = -y_net - LANE_WIDTH_M / 2
    lane = lanes - 1 - sumo_lane
    return episode_table(x, y, lane, lengths, fleet["width_m"].to_numpy(), fleet["is_truck"].to_numpy(), dt_s)


def _draw_fleet(rng, lanes, vehicles, speed_range_mps, randomize_behavior, truck_fraction) -> pd.DataFrame:
    """Each vehicle's size, start, target speed and driver parameters; placed lane by lane from the back."""
    low_mps, high_mps = float(speed_range_mps[0]), float(speed_range_mps[1])
    is_truck = rng.random(vehicles) < truck_fraction
    start_lane = np.where(is_truck, lanes - 1, rng.integers(0, lanes, size=vehicles))  # trucks keep right
    truck_high_mps = low_mps + TRUCK_SPEED_SHARE * (high_mps - low_mps)
    target_speed_mps = np.where(is_truck, rng.uniform(low_mps, truck_high_mps, size=vehicles),
                                rng.uniform(low_mps, high_mps, size=vehicles))
    length_m = np.where(is_truck, rng.uniform(*TRUCK_LENGTH_RANGE_M, size=vehicles), CAR_LENGTH_M)
    headway_s = rng.uniform(1.0, 2.5, size=vehicles)
    rear_cursor_m = SPAWN_START_M + rng.uniform(0.0, 30.0, size=lanes)  # staggered lane starts

    def per_driver(low: float, high: float, middle: float | None = None) -> np.ndarray:
        drawn = rng.uniform(low, high, size=vehicles)
        return drawn if randomize_behavior else np.full(vehicles, (low + high) / 2 if middle is None else middle)

    fleet = pd.DataFrame({
        "is_truck": is_truck, "lane": start_lane, "target_speed_mps": target_speed_mps, "length_m": length_m,
        "width_m": np.where(is_truck, TRUCK_WIDTH_M, CAR_WIDTH_M),
        "time_gap_s": per_driver(1.0, 2.0), "jam_gap_m": per_driver(2.0, 5.0),
        "accel_mps2": np.where(is_truck, per_driver(0.5, 1.2), per_driver(1.0, 3.0)),
        "decel_mps2": per_driver(3.0, 5.0), "idm_delta": per_driver(3.5, 4.5),
        "speed_gain": per_driver(0.5, 1.5), "cooperative": per_driver(0.5, 1.0), "keep_right": per_driver(0.5, 1.5),
    })
    front_m = np.zeros(vehicles)
    for i in range(vehicles):
        lane = int(start_lane[i])
        front_m[i] = rear_cursor_m[lane] + length_m[i]
        # The gap ahead of this vehicle is its own: it will follow whoever is placed next in this lane.
        rear_cursor_m[lane] = front_m[i] + fleet["jam_gap_m"].iloc[i] + target_speed_mps[i] * headway_s[i]
    fleet["front_m"] = front_m
    return fleet


@functools.lru_cache(maxsize=8)
def _network_xml(lanes: int, road_length_m: float) -> str:
    """A straight one-way road along +x from 0 to road_length_m (built once per process and road)."""
    with tempfile.TemporaryDirectory(prefix="drivelab-sumo-net-") as scratch:
        scratch = Path(scratch)
        (scratch / "road.nod.xml").write_text(
            f'<nodes><node id="start" x="0" y="0"/><node id="end" x="{road_length_m!r}" y="0"/></nodes>\n')
        # No speed limit to speak of: every driver keeps its own target speed (its vType's maxSpeed).
        (scratch / "road.edg.xml").write_text(
            f'<edges><edge id="{EDGE_ID}" from="start" to="end" numLanes="{lanes}" speed="70" '
            f'width="{LANE_WIDTH_M}"/></edges>\n')
        done = subprocess.run([sumo_binary("netconvert"), "--node-files", "road.nod.xml", "--edge-files",
                               "road.edg.xml", "--output-file", "road.net.xml", "--no-turnarounds", "true"],
                              cwd=scratch, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"netconvert exited {done.returncode}: {done.stderr.strip()[-500:]}")
        return (scratch / "road.net.xml").read_text()


def _routes_xml(fleet: pd.DataFrame, lanes: int) -> str:
    lines = ["<routes>", f'  <route id="along" edges="{EDGE_ID}"/>']
    for i, v in enumerate(fleet.itertuples()):
        vehicle_class = "truck" if v.is_truck else "passenger"
        lines.append(
            f'  <vType id="driver{i}" vClass="{vehicle_class}" length="{v.length_m:.4f}" width="{v.width_m:.4f}" '
            f'maxSpeed="{v.target_speed_mps:.4f}" speedFactor="1" speedDev="0" carFollowModel="IDM" '
            f'tau="{v.time_gap_s:.4f}" minGap="{v.jam_gap_m:.4f}" accel="{v.accel_mps2:.4f}" '
            f'decel="{v.decel_mps2:.4f}" delta="{v.idm_delta:.4f}" laneChangeModel="LC2013" '
            f'lcSpeedGain="{v.speed_gain:.4f}" lcCooperative="{v.cooperative:.4f}" lcKeepRight="{v.keep_right:.4f}"/>')
    # Leaders first, each at departSpeed "max" (as fast as is safe behind its leader, up to its target speed), so that
    # every vehicle enters at time 0: SUMO holds back a vehicle that is unsafe where it departs and drops it in later.
    for i, v in fleet.sort_values("front_m", ascending=False, kind="stable").iterrows():
        lines.append(
            f'  <vehicle id="{i}" type="driver{i}" route="along" depart="0" departLane="{lanes - 1 - int(v.lane)}" '
            f'departPos="{v.front_m:.4f}" departSpeed="max"/>')
    lines.append("</routes>")
    return "\n".join(lines) + "\n"


def _read_fcd(path: Path, n_frames: int, vehicles: int, sample_hz: int):
    """(frames, vehicles) grids of front x, y and SUMO lane index from sumo's floating car data; NaN off the road."""
    x, y, lane = (np.full((n_frames, vehicles), np.nan) for _ in range(3))
    for _, element in ET.iterparse(path, events=("end",)):
        if element.tag != "timestep":
            continue
        frame = int(round(float(element.get("time")) * sample_hz))
        if frame < n_frames:
            for vehicle in element:
                column = int(vehicle.get("id"))
                x[frame, column] = float(vehicle.get("x"))
                y[frame, column] = float(vehicle.get("y"))
                lane[frame, column] = int(vehicle.get("lane").rsplit("_", 1)[1])
        element.clear()
    return x, y, lane
