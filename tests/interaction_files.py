"""Small INTERACTION track files (vehicle_tracks_NNN.csv) written from the published format.

A header line, then one line per agent and frame: track_id, frame_id (from 1), timestamp_ms, agent_type, x, y
(metres, map coordinates of the centre, x east and y north), vx, vy (m/s), psi_rad (heading), length, width; 10 Hz.
Agents here drive straight along a road whose direction in the map is given, so the expected canonical values are
known: the road frame (along, left) is the map frame turned by the agent's heading.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence

import numpy as np

HEADER = "track_id,frame_id,timestamp_ms,agent_type,x,y,vx,vy,psi_rad,length,width"
FRAME_RATE_HZ = 10
ORIGIN = (1012.5, 987.25)  # map coordinates of the road frame's origin (the dataset's maps sit near 1000 m)


@dataclass
class Agent:
    """An agent driving along a road whose forward direction is `heading_deg` in the map: at the first frame it is
    `along_m` along that direction and `left_m` to its left of ORIGIN, and it moves at `speed_mps` + acceleration."""

    id: int
    heading_deg: float
    along_m: float
    left_m: float = 0.0
    speed_mps: float = 20.0
    acceleration_mps2: float = 0.0
    agent_type: str = "car"
    length: float = 4.6
    width: float = 1.9
    first_frame: int = 1
    frames: int = 150


def track_lines(agent: Agent) -> List[str]:
    frame = np.arange(agent.first_frame, agent.first_frame + agent.frames)
    elapsed_s = (frame - agent.first_frame) / FRAME_RATE_HZ
    along = agent.along_m + agent.speed_mps * elapsed_s + agent.acceleration_mps2 * elapsed_s**2 / 2
    speed = agent.speed_mps + agent.acceleration_mps2 * elapsed_s
    heading = np.radians(agent.heading_deg)
    forward, left = np.array([np.cos(heading), np.sin(heading)]), np.array([-np.sin(heading), np.cos(heading)])
    x = ORIGIN[0] + along * forward[0] + agent.left_m * left[0]
    y = ORIGIN[1] + along * forward[1] + agent.left_m * left[1]
    psi = (heading + np.pi) % (2 * np.pi) - np.pi  # the dataset gives headings in (-pi, pi]
    return [f"{agent.id},{f},{f * 100},{agent.agent_type},{x[i]:.3f},{y[i]:.3f},{speed[i] * forward[0]:.3f},"
            f"{speed[i] * forward[1]:.3f},{psi:.4f},{agent.length},{agent.width}" for i, f in enumerate(frame)]


def write_tracks(path: Path, agents: Sequence[Agent]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [HEADER] + [line for agent in agents for line in track_lines(agent)]
    path.write_text("\n".join(lines) + "\n")
    return path
