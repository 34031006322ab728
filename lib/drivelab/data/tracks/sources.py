"""The source formats drivelab reads: one registry entry per format, as `COMMANDS` in `drivelab.cli` is for commands.

`source.format` names an entry; its reader module is imported only when a source of that format is ingested. Every
reader module offers the same two functions, and nothing else is asked of it:

    find_recordings(path: Path) -> List[raw.RecordingFiles]
        the recordings under `path` (a file or a folder), in a stable order, each with its files and an id suffix
        taken from its file names; a path holding none is a `delimited.FileFormatError` naming it.
    read_recording(recording: raw.RecordingFiles, recording_id: str) -> raw.RawRecording
        one recording as canonical rows (`canonical.COLUMNS` + `source_line`), the source lines it could not
        convert (`raw.REJECTED_COLUMNS`, reasons from `raw.REASONS`), the vehicles its meta data declares and
        facts (format, files, data_lines, frame_rate_hz, declared_vehicles). A file it cannot read at all (missing,
        empty, a required column absent) is a `delimited.FileFormatError` naming the file and column.

Adding a format takes three things: a reader module beside the others (rows in the canonical frame: metres,
seconds, vehicle centre, forward = +x, left = +y, lanes or `canonical.UNKNOWN_LANE`; parse text with `delimited`
so bad lines become quarantined rows), one line in `SOURCES` below, and `conf/source/<name>.yaml` (name, format,
path, a comment on each key) so that `drivelab prepare source=<name> source.path=...` selects it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Protocol

from drivelab.errors import DrivelabError

if TYPE_CHECKING:
    from drivelab.data.tracks.raw import RawRecording, RecordingFiles


@dataclass(frozen=True)
class Source:
    module: str  # the reader module (find_recordings, read_recording), imported lazily
    summary: str


SOURCES: Dict[str, Source] = {
    "highd": Source("drivelab.data.tracks.highd", "highD XX_tracks.csv + XX_tracksMeta.csv + XX_recordingMeta.csv "
                                                  "(also what `drivelab simulate` writes)"),
    "ngsim": Source("drivelab.data.tracks.ngsim", "NGSIM US-101 / I-80 raw trajectory files, one recording per file"),
    "interaction": Source("drivelab.data.tracks.interaction",
                          "INTERACTION vehicle_tracks_NNN.csv, one recording per file; lanes unknown"),
}


class Reader(Protocol):
    """What a reader module offers (see the module docstring)."""

    def find_recordings(self, path: Path) -> List["RecordingFiles"]: ...

    def read_recording(self, recording: "RecordingFiles", recording_id: str) -> "RawRecording": ...


def reader(source_format: str) -> Reader:
    """The reader module of `source_format`; an unknown format is a one-line error listing the choices."""
    if source_format not in SOURCES:
        raise DrivelabError(f"source.format={source_format!r} is not supported; choose one of: {', '.join(SOURCES)}")
    return importlib.import_module(SOURCES[source_format].module)  # type: ignore[return-value]
