"""Ingest: find a source's recordings and convert each, in a pool of worker processes, into a raw canonical
recording under paths.data_dir/tracks_raw/ (see `raw`). Source files are only read, never written.

A source is `cfg.source`: `format` picks the reader from the registry (`sources.SOURCES`), `path` is what it reads,
`name` prefixes the recording ids (`<name>_<suffix>`, the suffix coming from the reader).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Sequence, Union

from drivelab.console import counted
from drivelab.atomic import replace_dir, write_json
from drivelab.data.tracks import canonical, raw, sources
from drivelab.errors import DrivelabError
from drivelab.pool import PoolSettings, run_tasks

RAW_DIR_NAME = "tracks_raw"


@dataclass(frozen=True)
class Shard:
    """One recording: the unit of work of a worker process."""

    recording_id: str
    format: str
    recording: raw.RecordingFiles


def discover(source_format: str, source_name: str, source_path: str) -> List[Shard]:
    """The recordings of a source, in a stable order, each with a unique id."""
    found = sources.reader(source_format).find_recordings(Path(source_path))
    shards = [Shard(f"{source_name}_{recording.suffix}", source_format, recording) for recording in found]
    ids = [shard.recording_id for shard in shards]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise DrivelabError(f"{source_path}: two recordings would both be named {repeated[0]!r}; rename one file")
    return shards


def ingest_shard(shard: Shard, out_dir: str) -> dict:
    """Worker task: read one recording, write its raw canonical folder, return its counts."""
    recording = sources.reader(shard.format).read_recording(shard.recording, shard.recording_id)
    raw.write(recording, Path(out_dir) / shard.recording_id)
    return {"recording_id": shard.recording_id, "data_lines": recording.facts["data_lines"],
            "rows": len(recording.tracks), "rejected": len(recording.rejected)}


def run_in_pool(task: Callable, arguments: Sequence[tuple], workers: Union[int, PoolSettings], description: str) -> List:
    """task(*args) for every args, in order, in the pool `workers` names (in this process for one local worker or
    one task)."""
    from tqdm import tqdm

    results = run_tasks(task, arguments, workers)
    return list(tqdm(results, total=len(arguments), desc=description, unit="recording", file=sys.stderr,
                     disable=len(arguments) < 2))


def ingest(data_dir: Path, source_format: str, source_name: str, source_path: str,
           workers: Union[int, PoolSettings]) -> dict:
    """Every recording of the source -> data_dir/tracks_raw/<recording_id>/; returns (and stores) the counts."""
    started = time.perf_counter()
    shards = discover(source_format, source_name, source_path)
    raw_dir = Path(data_dir) / RAW_DIR_NAME
    with replace_dir(raw_dir) as staging:
        counts = run_in_pool(ingest_shard, [(shard, str(staging)) for shard in shards], workers, "ingest")
        seconds = time.perf_counter() - started
        summary = {
            "source": {"format": source_format, "name": source_name, "path": str(source_path)},
            "recordings": len(counts),
            "data_lines": sum(c["data_lines"] for c in counts),
            "rows": sum(c["rows"] for c in counts),
            "rejected": sum(c["rejected"] for c in counts),
            "seconds": round(seconds, 3),
            "per_recording": counts,
        }
        write_json(staging / "ingest.json", summary)
    canonical.write_stage_record(data_dir, "ingest", summary["seconds"], rows_in=summary["data_lines"],
                                 rows_out=summary["rows"])
    return summary


def print_summary(summary: dict, raw_dir: Path) -> None:
    rate = summary["data_lines"] / max(summary["seconds"], 1e-9)
    print(f"ingested {counted(summary['recordings'], 'recording')}: {summary['data_lines']} lines -> {summary['rows']} rows, "
          f"{summary['rejected']} rejected while reading, in {summary['seconds']:.1f} s ({rate:,.0f} lines/s) -> {raw_dir}")
