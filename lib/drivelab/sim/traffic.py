"""One episode of heterogeneous highway traffic, simulated with highway-env's road model directly.

The gym loop is skipped: a straight multi-lane road is filled with IDM/MOBIL vehicles and advanced with
`road.act(); road.step(dt)`, logging every vehicle at every step. Coordinates are highway-env's: x along the
road, y lateral and growing with the lane index, lane 0 (the drivers' leftmost lane) centred at y = 0.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from highway_env.road.road import Road, RoadNetwork
from highway_env.vehicle.behavior import IDMVehicle
from highway_env.vehicle.kinematics import Vehicle

from drivelab.sim.episode_table import episode_table


CAR_LENGTH_M = 5.0
CAR_WIDTH_M = 2.0
TRUCK_LENGTH_RANGE_M = (12.0, 16.0)
TRUCK_WIDTH_M = 2.5
# Trucks draw their target speed from the slowest part of the speed range.
TRUCK_SPEED_SHARE = 0.3
SPAWN_START_M = 60.0


class HighwayDriver(IDMVehicle):
    """IDM/MOBIL vehicle whose car-following gap is measured bumper to bumper.

    highway-env's IDM uses centre distances with a jam distance that assumes two 5 m cars; with 12-16 m trucks
    that lets followers drive into the truck's rear, so gaps here subtract both half-lengths.
    """

    DISTANCE_WANTED = 5.0  # jam gap, bumper to bumper [m]
    # highway-env's default lateral controller (0.6 s lateral, 0.2 s heading time constants) saturates the
    # steering in a lane change: lateral accelerations reach ~30 m/s^2. These gains give 4-6 s lane changes
    # with peak lateral speeds of ~1.5 m/s and lateral accelerations within ~3 m/s^2, as on real highways.
    KP_LATERAL = 1 / 2.0  # [1/s]
    KP_HEADING = 1 / 0.6  # [1/s]
    TAU_PURSUIT = 0.3  # [s]

    def acceleration(self, ego_vehicle, front_vehicle=None, rear_vehicle=None) -> float:
        if not isinstance(ego_vehicle, Vehicle):
            return 0.0
        target_speed_mps = max(getattr(ego_vehicle, "target_speed", 0.0), 0.1)
        free_road = self.COMFORT_ACC_MAX * (1.0 - (max(ego_vehicle.speed, 0.0) / target_speed_mps) ** self.DELTA)
        if front_vehicle is None:
            return free_road
        gap_m = ego_vehicle.lane_distance_to(front_vehicle) - (ego_vehicle.LENGTH + front_vehicle.LENGTH) / 2
        interaction = (self.desired_gap(ego_vehicle, front_vehicle) / max(gap_m, 0.1)) ** 2
        return free_road - self.COMFORT_ACC_MAX * interaction


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
    """Simulate one episode; one row per (vehicle, step), sorted by vehicle_id then frame.

    Vehicles whose front bumper passes the road end are dropped from then on, so their tracks end early.
    """
    rng = np.random.default_rng(seed)
    # No lane speed limit: highway-env clips each driver's target speed to it (30 m/s by default).
    network = RoadNetwork.straight_road_network(lanes=lanes, length=road_length_m, speed_limit=None)
    road = Road(network=network, np_random=rng)
    fleet, is_truck = _spawn_fleet(road, rng, lanes, vehicles, speed_range_mps, randomize_behavior, truck_fraction)
    if any(v.position[0] + v.LENGTH / 2 >= road_length_m for v in fleet):
        raise ValueError(f"road_length_m={road_length_m} is too short to place {vehicles} vehicles on {lanes} lanes")

    n_frames = int(round(duration_s * sample_hz))
    dt_s = 1.0 / sample_hz
    # Dense (frame, vehicle) grids; NaN where a vehicle has left the road.
    state = np.full((3, n_frames, len(fleet)), np.nan)  # x, y, lane
    columns = {id(v): i for i, v in enumerate(fleet)}
    for frame in range(n_frames):
        if frame > 0:
            road.act()
            road.step(dt_s)
            road.vehicles = [v for v in road.vehicles if v.position[0] + v.LENGTH / 2 < road_length_m]
        for vehicle in road.vehicles:
            state[:, frame, columns[id(vehicle)]] = (*vehicle.position, vehicle.lane_index[2])

    x, y, lane = state
    lengths = np.array([v.LENGTH for v in fleet])
    widths = np.array([v.WIDTH for v in fleet])
    return episode_table(x, y, lane, lengths, widths, is_truck, dt_s)


def _spawn_fleet(road, rng, lanes, vehicles, speed_range_mps, randomize_behavior, truck_fraction):
    """Place vehicles lane by lane from the back, each at a time gap behind the next one.

    Returns the vehicles in id order and a boolean array marking the trucks.
    """
    low_mps, high_mps = float(speed_range_mps[0]), float(speed_range_mps[1])
    is_truck = rng.random(vehicles) < truck_fraction
    # Trucks start in the rightmost lane, as they mostly keep right on real highways.
    start_lane = np.where(is_truck, lanes - 1, rng.integers(0, lanes, size=vehicles))
    truck_high_mps = low_mps + TRUCK_SPEED_SHARE * (high_mps - low_mps)
    target_speed_mps = np.where(
        is_truck, rng.uniform(low_mps, truck_high_mps, size=vehicles), rng.uniform(low_mps, high_mps, size=vehicles)
    )
    length_m = np.where(is_truck, rng.uniform(*TRUCK_LENGTH_RANGE_M, size=vehicles), CAR_LENGTH_M)
    headway_s = rng.uniform(1.0, 2.5, size=vehicles)
    # Staggered lane starts, so the lanes' first vehicles are not side by side.
    rear_cursor_m = SPAWN_START_M + rng.uniform(0.0, 30.0, size=lanes)

    fleet = []
    for i in range(vehicles):
        lane_id = int(start_lane[i])
        lane = road.network.get_lane(("0", "1", lane_id))
        x_m = rear_cursor_m[lane_id] + length_m[i] / 2
        # The gap ahead of this vehicle is its own: it will follow whoever is placed next in this lane.
        gap_ahead_m = HighwayDriver.DISTANCE_WANTED + target_speed_mps[i] * headway_s[i]
        rear_cursor_m[lane_id] = x_m + length_m[i] / 2 + gap_ahead_m
        vehicle = HighwayDriver(
            road,
            lane.position(x_m, 0.0),
            heading=lane.heading_at(x_m),
            speed=float(target_speed_mps[i]),
            target_speed=float(target_speed_mps[i]),
        )
        vehicle.LENGTH = float(length_m[i])
        vehicle.WIDTH = TRUCK_WIDTH_M if is_truck[i] else CAR_WIDTH_M
        # highway-env caches the diagonal at construction for its collision pre-check.
        vehicle.diagonal = float(np.hypot(vehicle.LENGTH, vehicle.WIDTH))
        if randomize_behavior:
            _randomize_driver(vehicle, rng, bool(is_truck[i]))
        road.vehicles.append(vehicle)
        fleet.append(vehicle)
    return fleet, is_truck


def _randomize_driver(vehicle: HighwayDriver, rng: np.random.Generator, is_truck: bool) -> None:
    """Per-driver IDM/MOBIL parameters (instance attributes shadow highway-env's class defaults)."""
    vehicle.randomize_behavior()  # IDM exponent, drawn from road.np_random (our seeded generator)
    vehicle.TIME_WANTED = rng.uniform(1.0, 2.0)
    vehicle.DISTANCE_WANTED = rng.uniform(2.0, 5.0)
    vehicle.COMFORT_ACC_MAX = rng.uniform(0.5, 1.2) if is_truck else rng.uniform(1.0, 3.0)
    vehicle.COMFORT_ACC_MIN = -rng.uniform(3.0, 5.0)
    vehicle.POLITENESS = rng.uniform(0.0, 0.5)
    vehicle.LANE_CHANGE_MIN_ACC_GAIN = rng.uniform(0.1, 0.3)
    # Seconds between MOBIL decisions; highway-env's 1 s lets drivers chain or undo changes within ~2 s.
    vehicle.LANE_CHANGE_DELAY = rng.uniform(2.0, 4.0)
