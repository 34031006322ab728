"""A highD recording of steady traffic, long enough to split in time: vehicles enter every lane at regular times and
cross the section at constant speed (written with highd_files, from the published format)."""

from __future__ import annotations

from pathlib import Path

from highd_files import LOWER_MARKINGS, UPPER_MARKINGS, Vehicle, write_recording

FRAME_RATE_HZ = 25.0


def write_steady_traffic(folder: Path, number: int = 1, duration_s: float = 120.0, headway_s: float = 2.0,
                         crossing_s: float = 12.0, speed_mps: float = 25.0) -> Path:
    """One recording of `duration_s`: every `headway_s` a vehicle enters each of the four lanes and stays
    `crossing_s`; lanes run at slightly different speeds so that neighbours move relative to each other."""
    vehicles, vehicle_id = [], 1
    lanes = [(2, (LOWER_MARKINGS[0] + LOWER_MARKINGS[1]) / 2, 1.0), (2, (LOWER_MARKINGS[1] + LOWER_MARKINGS[2]) / 2, 0.9),
             (1, (UPPER_MARKINGS[0] + UPPER_MARKINGS[1]) / 2, 0.95), (1, (UPPER_MARKINGS[1] + UPPER_MARKINGS[2]) / 2, 1.05)]
    last_entry_s = duration_s - crossing_s
    entry_s = 0.0
    while entry_s <= last_entry_s + 1e-9:
        for offset, (direction, centre_y, speed_factor) in enumerate(lanes):
            start_s = entry_s + 0.25 * offset  # lanes do not all start on the same frame
            first_frame = 1 + int(round(start_s * FRAME_RATE_HZ))
            last_frame = min(int(round(duration_s * FRAME_RATE_HZ)), first_frame + int(crossing_s * FRAME_RATE_HZ))
            speed = speed_mps * speed_factor
            start_x = 10.0 if direction == 2 else 10.0 + speed * crossing_s
            vehicles.append(Vehicle(vehicle_id, direction, centre_x=start_x, centre_y=centre_y,
                                    x_velocity=speed if direction == 2 else -speed,
                                    first_frame=first_frame, last_frame=last_frame))
            vehicle_id += 1
        entry_s += headway_s
    write_recording(folder, number, vehicles, FRAME_RATE_HZ)
    return folder
