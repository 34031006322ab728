"""Clean: validate raw canonical recordings against a declared schema and per-track checks.

Every source line ends in exactly one place: a kept row of paths.data_dir/tracks/<recording_id>.parquet or a row of
paths.data_dir/quarantine.parquet with its reason (`raw.REASONS`). The one repair is exact duplicates: the
first copy of an identical (track, frame) row is kept and counted as repaired, the other copies are quarantined.
paths.data_dir/clean_report.json counts rows and tracks in, kept, repaired and quarantined per reason.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Tuple, Union

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from drivelab.atomic import replace_dir, write_json
from drivelab.data.tracks import canonical, raw
from drivelab.data.tracks.ingest import RAW_DIR_NAME, run_in_pool
from drivelab.data.tracks.raw import REASONS, TRACK_REASONS, RawRecording
from drivelab.errors import DrivelabError, MissingInputError
from drivelab.pool import PoolSettings

QUARANTINE_FILE = "quarantine.parquet"  # beside tracks/, not in it: windows reads every tracks/*.parquet
REPORT_FILE = "clean_report.json"  # beside tracks/: DVC cannot declare a metrics file inside an output folder


@dataclass(frozen=True)
class Column:
    unit: str
    minimum: float = -np.inf
    maximum: float = np.inf
    allowed: Tuple = ()  # for categorical columns


# The declared schema of a clean row (types are canonical.COLUMNS). A value outside its range quarantines the row.
SCHEMA: Dict[str, Column] = {
    "track_id": Column("-", 0),
    "frame": Column("frame", 0),
    "time_s": Column("s", 0.0),
    "frame_rate_hz": Column("Hz", 1.0, 1000.0),
    "x_m": Column("m", -1e5, 1e5),
    "y_m": Column("m", -1e3, 1e3),
    "vx_mps": Column("m/s", -5.0, 90.0),  # forward frame: clearly negative means driving backwards
    "vy_mps": Column("m/s", -20.0, 20.0),
    "ax_mps2": Column("m/s^2", -20.0, 20.0),
    "ay_mps2": Column("m/s^2", -20.0, 20.0),
    "length_m": Column("m", 0.5, 40.0),
    "width_m": Column("m", 0.3, 6.0),
    "lane": Column("lane index", canonical.UNKNOWN_LANE, 31),  # UNKNOWN_LANE: the source has no lanes
    "vehicle_class": Column("-", allowed=("Car", "Truck", "Motorcycle")),
    "driving_direction": Column("-", allowed=(0, 1, 2)),
}
FLOAT_COLUMNS = [name for name, dtype in canonical.COLUMNS.items() if dtype == "float64"]
VALUE_COLUMNS = [name for name in canonical.COLUMNS if name not in ("recording_id", "track_id", "frame")]
# Unreported acceleration allowed between two rows when checking positions against speeds (hard braking).
JUMP_ACCELERATION_MPS2 = 10.0
BACKWARD_SPEED_MPS = -1.0  # a track whose median forward speed is below this drives against its declared direction
SIZE_TOLERANCE_M = 0.5  # row sizes farther than this from the meta file's are noted
QUARANTINE_COLUMNS: Dict[str, str] = {
    "recording_id": "string",
    **raw.REJECTED_COLUMNS,
    **{name: "Float64" for name in FLOAT_COLUMNS},
    "lane": "Int16",
    "vehicle_class": "string",
    "driving_direction": "Int8",
}
NOTES = {
    "meta_vehicles_without_rows": "vehicles in the meta file with no row in the tracks file",
    "tracks_frame_count_unlike_meta": "tracks whose number of rows differs from the meta file's numFrames",
    "tracks_size_unlike_meta": f"tracks whose length/width differ from the meta file's by more than {SIZE_TOLERANCE_M} m",
    "declared_vehicle_count_differs": "recordings whose numVehicles differs from the ids in the tracks file",
    "tracks_with_frame_gaps": "kept tracks with missing frames (windows never span a gap)",
}


@dataclass
class CleanResult:
    tracks: pd.DataFrame  # canonical columns, in (track, frame) order
    quarantine: pd.DataFrame  # QUARANTINE_COLUMNS
    report: dict


def clean_recording(recording: RawRecording, max_jump_m: float) -> CleanResult:
    """Validate one raw recording; every row is kept or quarantined with the first reason that applies."""
    rows = recording.tracks.reset_index(drop=True)
    verdict = np.full(len(rows), "", dtype=object)  # "" = kept, else the quarantine reason
    detail = np.full(len(rows), "", dtype=object)

    _check_finite(rows, verdict, detail)
    _check_direction(rows, verdict, detail)  # before ranges: a whole track driving backwards is one meta defect
    _check_ranges(rows, verdict, detail)
    repaired = _check_duplicates(rows, verdict, detail)
    _check_meta_frames(rows, recording.vehicles, verdict, detail)
    _check_jumps(rows, verdict, detail, max_jump_m)

    kept = verdict == ""
    quarantined = rows[~kept].assign(reason=verdict[~kept], detail=detail[~kept])
    quarantine = quarantine_table(recording, quarantined)
    report = recording_report(recording, rows, rows[kept], quarantine, repaired)
    return CleanResult(rows[kept].drop(columns="source_line"), quarantine, report)


def _mark(verdict: np.ndarray, detail: np.ndarray, positions: np.ndarray, reason: str, text) -> None:
    """Quarantine the rows at `positions` that are still kept (the first reason found wins)."""
    text = np.broadcast_to(np.asarray(text, dtype=object), positions.shape)
    still = verdict[positions] == ""
    verdict[positions[still]] = reason
    detail[positions[still]] = text[still]


def _check_finite(rows: pd.DataFrame, verdict: np.ndarray, detail: np.ndarray) -> None:
    for name in FLOAT_COLUMNS:
        bad = np.flatnonzero(~np.isfinite(rows[name].to_numpy(float)))
        _mark(verdict, detail, bad, "nan_or_inf", f"{name} is missing, NaN or infinite")


def _check_ranges(rows: pd.DataFrame, verdict: np.ndarray, detail: np.ndarray) -> None:
    for name, column in SCHEMA.items():
        values = rows[name].to_numpy()
        if column.allowed:
            outside = ~pd.Series(values).isin(column.allowed).to_numpy()
            bound = "one of " + ", ".join(map(str, column.allowed))
        else:
            outside = (values < column.minimum) | (values > column.maximum)
            bound = f"in [{column.minimum:g}, {column.maximum:g}] {column.unit}"
        bad = np.flatnonzero(outside)
        if bad.size:
            text = (f"{name} = " + pd.Series(values[bad]).astype(str) + f" is not {bound}").to_numpy()
            _mark(verdict, detail, bad, "out_of_range", text)


def _check_duplicates(rows: pd.DataFrame, verdict: np.ndarray, detail: np.ndarray) -> int:
    """Identical copies of a (track, frame) row: keep the first, quarantine the rest, count a repair.
    Differing copies: quarantine them all. Returns the number of repaired (kept) rows."""
    alive = np.flatnonzero(verdict == "")
    live = rows.iloc[alive]
    repeated = live.duplicated(subset=["track_id", "frame"], keep=False).to_numpy()
    if not repeated.any():
        return 0
    candidates = live[repeated]
    versions = candidates.drop_duplicates(subset=["track_id", "frame", *VALUE_COLUMNS]).groupby(["track_id", "frame"]).size()
    n_versions = candidates.join(versions.rename("versions"), on=["track_id", "frame"])["versions"].to_numpy()
    later = candidates.duplicated(subset=["track_id", "frame"], keep="first").to_numpy()  # rows are in line order
    first_line = candidates.groupby(["track_id", "frame"])["source_line"].transform("min").astype(str).to_numpy()
    positions = alive[repeated]
    conflict = n_versions > 1
    _mark(verdict, detail, positions[conflict], "duplicate_conflict", "rows for this (track, frame) differ")
    copy = ~conflict & later
    _mark(verdict, detail, positions[copy], "duplicate_exact", "identical to line " + first_line[copy])
    return int(np.count_nonzero(~conflict & ~later))


def _check_meta_frames(rows: pd.DataFrame, vehicles: pd.DataFrame, verdict: np.ndarray, detail: np.ndarray) -> None:
    declared = vehicles.set_index("track_id")[["declared_first_frame", "declared_last_frame"]]
    bounds = rows[["track_id"]].join(declared, on="track_id")
    first = bounds["declared_first_frame"].astype("Float64").fillna(-np.inf).to_numpy(float)
    last = bounds["declared_last_frame"].astype("Float64").fillna(np.inf).to_numpy(float)
    frames = rows["frame"].to_numpy()
    bad = np.flatnonzero((frames < first) | (frames > last))
    if bad.size:
        text = ("frame outside initialFrame..finalFrame = " + pd.Series(first[bad]).astype("int64").astype(str)
                + ".." + pd.Series(last[bad]).astype("int64").astype(str)).to_numpy()
        _mark(verdict, detail, bad, "outside_meta_frames", text)


def _check_direction(rows: pd.DataFrame, verdict: np.ndarray, detail: np.ndarray) -> None:
    alive = verdict == ""
    median = rows[alive].groupby("track_id")["vx_mps"].median()
    backward = median.index[median.to_numpy() < BACKWARD_SPEED_MPS]
    bad = np.flatnonzero(rows["track_id"].isin(backward).to_numpy())
    _mark(verdict, detail, bad, "direction_mismatch",
          f"median forward speed below {BACKWARD_SPEED_MPS:g} m/s: it drives against its declared direction")


def _motion(rows: pd.DataFrame, positions: np.ndarray) -> Dict[str, np.ndarray]:
    return {name: rows[name].to_numpy()[positions] for name in ("track_id", "time_s", "x_m", "y_m", "vx_mps", "vy_mps")}


def _jumps(motion: Dict[str, np.ndarray], max_jump_m: float, step: int = 1) -> np.ndarray:
    """Whether row i and row i + step of the same track disagree with their speeds: the position misses the one the
    mean of their velocities predicts by more than max_jump_m plus what hard braking could add over the interval."""
    track_id, time_s = motion["track_id"], motion["time_s"]
    elapsed_s = time_s[step:] - time_s[:-step]
    miss_x = motion["x_m"][step:] - motion["x_m"][:-step] - (motion["vx_mps"][step:] + motion["vx_mps"][:-step]) / 2 * elapsed_s
    miss_y = motion["y_m"][step:] - motion["y_m"][:-step] - (motion["vy_mps"][step:] + motion["vy_mps"][:-step]) / 2 * elapsed_s
    tolerance_m = max_jump_m + 0.5 * JUMP_ACCELERATION_MPS2 * elapsed_s**2
    return (np.hypot(miss_x, miss_y) > tolerance_m) & (track_id[step:] == track_id[:-step])


def _check_jumps(rows: pd.DataFrame, verdict: np.ndarray, detail: np.ndarray, max_jump_m: float) -> None:
    """A lone row off its track (a spike) goes alone; a track with any other jump goes whole."""
    alive = np.flatnonzero(verdict == "")
    if len(alive) >= 3:
        motion = _motion(rows, alive)
        jump = _jumps(motion, max_jump_m)
        track_id = motion["track_id"]
        same = track_id[1:] == track_id[:-1]
        before, after = np.r_[False, jump], np.r_[jump, False]
        bridged = np.r_[False, ~_jumps(motion, max_jump_m, step=2) & (track_id[2:] == track_id[:-2]), False]  # i-1 to i+1 fits
        next_fine = np.r_[~jump[1:] & same[1:], False, False]  # the link from row i+1 to i+2 fits
        previous_fine = np.r_[False, False, ~jump[:-1] & same[:-1]]  # the link from row i-2 to i-1 fits
        first, last = np.r_[True, ~same], np.r_[~same, True]
        spike = (before & after & bridged) | (first & after & next_fine) | (last & before & previous_fine)
        _mark(verdict, detail, alive[spike], "position_spike", "position off its track on both sides (a tracking glitch)")
    alive = np.flatnonzero(verdict == "")
    if len(alive) < 2:
        return
    motion = _motion(rows, alive)
    at = np.flatnonzero(_jumps(motion, max_jump_m)) + 1
    if not at.size:
        return
    first_jump_s = pd.Series(motion["time_s"][at]).groupby(motion["track_id"][at]).min()
    bad = np.flatnonzero(rows["track_id"].isin(first_jump_s.index).to_numpy())
    when = rows["track_id"].iloc[bad].map(first_jump_s).round(2).astype(str).to_numpy()
    _mark(verdict, detail, bad, "position_jump", "position jump at t = " + when + " s, beyond what the speed allows")


def quarantine_table(recording: RawRecording, quarantined: pd.DataFrame) -> pd.DataFrame:
    """Rows rejected while reading (with their source text) and by validation (with their canonical values)."""
    source_file = recording.facts["files"][0] if recording.facts.get("files") else ""
    validated = quarantined.drop(columns=["recording_id"]).assign(source_file=source_file, raw_text=pd.NA)
    parts = [conform_quarantine(part.assign(recording_id=recording.recording_id)) for part in (recording.rejected, validated)]
    parts = [part for part in parts if len(part)]
    if not parts:
        return conform_quarantine(pd.DataFrame({"recording_id": pd.Series(dtype="string")}))
    return pd.concat(parts, ignore_index=True).sort_values("source_line", ignore_index=True)


def conform_quarantine(table: pd.DataFrame) -> pd.DataFrame:
    missing = {name: pd.NA for name in QUARANTINE_COLUMNS if name not in table.columns}
    return table.assign(**missing)[list(QUARANTINE_COLUMNS)].astype(QUARANTINE_COLUMNS).reset_index(drop=True)


def recording_report(recording: RawRecording, rows: pd.DataFrame, kept: pd.DataFrame, quarantine: pd.DataFrame,
                     repaired: int) -> dict:
    """Counts for one recording; rows in = kept + quarantined, or the books do not balance and this raises."""
    rows_in = int(recording.facts["data_lines"])
    if rows_in != len(kept) + len(quarantine):
        raise RuntimeError(f"{recording.recording_id}: {rows_in} source lines but {len(kept)} kept + "
                           f"{len(quarantine)} quarantined rows")
    by_reason = quarantine["reason"].value_counts()
    track_ids = pd.concat([rows["track_id"], recording.rejected["track_id"].dropna().astype("int64")])
    seen = track_ids.value_counts()
    quarantined_tracks = {reason: int(quarantine.loc[quarantine["reason"] == reason, "track_id"].nunique())
                          for reason in TRACK_REASONS}
    vehicles = recording.vehicles.set_index("track_id")
    frames_declared = vehicles["declared_frames"].dropna()
    counted = seen.reindex(frames_declared.index)
    row_sizes = rows.groupby("track_id")[["length_m", "width_m"]].median()
    sizes = row_sizes.join(vehicles[["declared_length_m", "declared_width_m"]], how="inner")
    size_off = ((sizes["length_m"] - sizes["declared_length_m"]).abs() > SIZE_TOLERANCE_M) | (
        (sizes["width_m"] - sizes["declared_width_m"]).abs() > SIZE_TOLERANCE_M)
    frame_steps = kept.groupby("track_id")["frame"].diff()
    declared = recording.facts.get("declared_vehicles")
    notes = {
        "meta_vehicles_without_rows": int((~vehicles.index.isin(seen.index)).sum()),
        "tracks_frame_count_unlike_meta": int((counted.notna() & (counted != frames_declared)).sum()),
        "tracks_size_unlike_meta": int(size_off.fillna(False).sum()),
        "declared_vehicle_count_differs": int(declared is not None and declared != len(seen)),
        "tracks_with_frame_gaps": int(kept.loc[(frame_steps > 1).to_numpy(), "track_id"].nunique()),
    }
    return {
        "rows": {"in": rows_in, "kept": int(len(kept)), "repaired": repaired, "quarantined": int(len(quarantine))},
        "tracks": {"in": int(len(seen)), "kept": int(kept["track_id"].nunique()),
                   "removed": int(len(seen) - kept["track_id"].nunique())},
        "quarantined_rows": {reason: int(by_reason.get(reason, 0)) for reason in REASONS},
        "quarantined_tracks": quarantined_tracks,
        "repaired_rows": {"duplicate_exact": repaired},
        "notes": notes,
    }


def combine_reports(reports: Dict[str, dict], max_jump_m: float) -> dict:
    """Totals over recordings (sums of every count) with the per-recording reports beside them."""
    def add(total: dict, part: dict) -> None:
        for key, value in part.items():
            if isinstance(value, dict):
                add(total.setdefault(key, {}), value)
            else:
                total[key] = total.get(key, 0) + value

    totals: dict = {}
    for report in reports.values():
        add(totals, report)
    kept = sum(1 for report in reports.values() if report["rows"]["kept"])
    empty = sum(1 for report in reports.values() if report["rows"]["in"] == 0)
    return {
        "recordings": {"in": len(reports), "kept": kept, "empty": empty, "without_kept_rows": len(reports) - kept},
        **totals,
        "settings": {"max_jump_m": max_jump_m},
        "per_recording": reports,
    }


def clean_shard(raw_folder: str, tracks_dir: str, quarantine_dir: str, max_jump_m: float) -> Tuple[str, dict]:
    """Worker task: clean one raw recording, write its kept rows and its quarantined rows."""
    recording = raw.read(Path(raw_folder))
    result = clean_recording(recording, max_jump_m)
    if len(result.tracks):
        canonical.write(result.tracks, Path(tracks_dir) / f"{recording.recording_id}.parquet")
    result.quarantine.to_parquet(Path(quarantine_dir) / f"{recording.recording_id}.parquet", index=False)
    return recording.recording_id, result.report


def clean(data_dir: Path, max_jump_m: float, workers: Union[int, PoolSettings]) -> dict:
    """data_dir/tracks_raw -> data_dir/tracks (kept rows), quarantine.parquet and clean_report.json; returns the
    report with the stage's duration beside it (`seconds`, which the report file leaves out: it differs run to run)."""
    started = time.perf_counter()
    data_dir = Path(data_dir)
    folders = raw.recording_folders(data_dir / RAW_DIR_NAME)
    if not folders:
        raise MissingInputError(f"no ingested recordings in {data_dir / RAW_DIR_NAME}; run `drivelab ingest` first")
    parts_dir = Path(tempfile.mkdtemp(dir=data_dir, prefix=".quarantine.", suffix=".parts"))
    try:
        quarantine_file = data_dir / QUARANTINE_FILE
        quarantine_tmp = parts_dir / QUARANTINE_FILE
        with replace_dir(data_dir / "tracks") as staging:
            arguments = [(str(folder), str(staging), str(parts_dir), max_jump_m) for folder in folders]
            report = combine_reports(dict(run_in_pool(clean_shard, arguments, workers, "clean")), max_jump_m)
            parts = [pq.read_table(parts_dir / f"{folder.name}.parquet") for folder in folders]
            pq.write_table(pa.concat_tables(parts), quarantine_tmp)
        # Tracks first, then quarantine, then the report: a report never describes tracks that are not yet there.
        quarantine_tmp.replace(quarantine_file)
        write_json(data_dir / REPORT_FILE, report)
        if not report["rows"]["kept"]:
            raise DrivelabError(f"no row of {len(folders)} recordings survived cleaning; the reasons are in "
                                f"{data_dir / REPORT_FILE} and every row is in {quarantine_file}")
    finally:
        shutil.rmtree(parts_dir, ignore_errors=True)
    seconds = time.perf_counter() - started
    canonical.write_stage_record(data_dir, "clean", seconds, rows_in=report["rows"]["in"], rows_out=report["rows"]["kept"])
    return {**report, "seconds": round(seconds, 3)}


def print_summary(report: dict, data_dir: Path) -> None:
    """What `clean` returned, for the terminal: the report and where its outputs went."""
    data_dir = Path(data_dir)
    seconds = report.get("seconds", 0.0)
    print(format_report(report))
    print(f"  cleaned in {seconds:.1f} s ({report['rows']['in'] / max(seconds, 1e-9):,.0f} rows/s) -> "
          f"{data_dir / 'tracks'}; report {data_dir / REPORT_FILE}, quarantine {data_dir / QUARANTINE_FILE}")


def format_report(report: dict) -> str:
    """The report as a few lines for the terminal."""
    rows, tracks, recordings = report["rows"], report["tracks"], report["recordings"]
    lines = [
        f"clean: {rows['in']} rows in, {rows['kept']} kept ({rows['repaired']} repaired), {rows['quarantined']} quarantined;"
        f" tracks {tracks['in']} in, {tracks['kept']} kept; recordings {recordings['in']} in, {recordings['kept']} kept"
        + (f", {recordings['empty']} empty" if recordings["empty"] else ""),
    ]
    for reason, count in report["quarantined_rows"].items():
        if count:
            tracks_note = f" ({report['quarantined_tracks'][reason]} tracks)" if reason in TRACK_REASONS else ""
            lines.append(f"  quarantined {reason}: {count} rows{tracks_note}  - {REASONS[reason]}")
    if rows["repaired"]:
        lines.append(f"  repaired duplicate_exact: {rows['repaired']} rows kept once, their copies quarantined")
    for note, count in report["notes"].items():
        if count:
            lines.append(f"  note {note}: {count}  - {NOTES[note]}")
    return "\n".join(lines)
