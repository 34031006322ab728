"""Delimited text tables read defensively: every data line ends up as a parsed row or as a rejected line.

pyarrow's CSV reader skips (and numbers) lines with the wrong number of fields and converts the columns to floats in
bulk; only a file holding a value that is not a number is read a second time, as bytes, so the bad rows can be named
by line number, column and text while the good ones are still converted in bulk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from drivelab.errors import DrivelabError

# Spellings of a missing value, the same in both paths ("" is an empty field).
MISSING_TOKENS = ["", "nan", "NaN", "NAN", "-nan", "-NaN", "NA", "N/A", "n/a", "null", "NULL", "#N/A"]
# Numbers pyarrow's float parser accepts; anything else in a numeric column is junk.
NUMBER_PATTERN = r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$|^[-+]?([iI][nN][fF]([iI][nN][iI][tT][yY])?)$"
REJECTED_COLUMNS = ["source_line", "reason", "detail", "raw_text"]


class FileFormatError(DrivelabError, ValueError):
    """A source file that cannot be read as the format it claims to be (names the file, row or column)."""


@dataclass
class ParsedTable:
    """Numeric columns of the lines that parsed, their 1-based source lines, and the lines that did not."""

    columns: Dict[str, np.ndarray]
    source_line: np.ndarray
    rejected: pd.DataFrame  # REJECTED_COLUMNS
    data_lines: int  # lines after the header, blank lines included
    text: Dict[str, np.ndarray] = field(default_factory=dict)  # text columns asked for, whitespace stripped

    def __len__(self) -> int:
        return len(self.source_line)


def read_bytes(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def header_of(data: bytes, path: Path) -> List[str]:
    """The comma-separated names on the first line; an empty file is an error."""
    end = data.find(b"\n")
    first = data[: end if end >= 0 else len(data)].removeprefix(b"\xef\xbb\xbf").strip(b"\r\n ")  # a UTF-8 BOM
    if not first:
        raise FileFormatError(f"{path}: empty file (expected a header line)")
    return [name.strip() for name in first.decode("utf-8", errors="replace").split(",")]


def collapse_whitespace(data: bytes) -> bytes:
    """Runs of spaces/tabs become one comma; leading and trailing ones go (for whitespace-aligned files)."""
    buffer = np.frombuffer(data.translate(_TAB_TO_SPACE), dtype=np.uint8)
    space = buffer == ord(" ")
    keep = ~space
    keep[1:] |= space[1:] & (buffer[:-1] > ord(" "))  # the first blank after a value separates it from the next
    compact = buffer[keep]
    if len(compact):
        # A kept blank before a line break (or the end) only ended a line with blanks: drop it.
        dangling = (compact == ord(" ")) & np.r_[compact[1:] < ord(" "), True]
        if dangling.any():
            compact = compact[~dangling]
    return compact.tobytes().translate(_SPACE_TO_COMMA)


_TAB_TO_SPACE = bytes.maketrans(b"\t", b" ")
_SPACE_TO_COMMA = bytes.maketrans(b" ", b",")
_NON_ASCII_TO_QUESTION_MARK = bytes.maketrans(bytes(range(128, 256)), b"?" * 128)


def _read(data: bytes, names: Sequence[str], wanted: Sequence[str], header: bool,
          value_type: pa.DataType, text: Sequence[str] = ()) -> Tuple[pa.Table, List[tuple]]:
    """pyarrow's CSV reader over `data`; lines with the wrong number of fields are skipped and returned as
    (line number, field count). Single-threaded: line numbers need it, and a multi-threaded read that fails can
    abort the interpreter at exit (pyarrow 26); recordings run in parallel worker processes instead."""
    invalid: List[tuple] = []

    def on_invalid(row) -> str:
        invalid.append((row.number, row.actual_columns))
        return "skip"

    table = pa_csv.read_csv(
        pa.BufferReader(data),
        read_options=pa_csv.ReadOptions(use_threads=False, column_names=list(names), skip_rows=int(header)),
        # No quoting in these formats: a stray quote must not swallow the lines after it.
        parse_options=pa_csv.ParseOptions(quote_char=False, ignore_empty_lines=False, invalid_row_handler=on_invalid),
        convert_options=pa_csv.ConvertOptions(
            include_columns=[*wanted, *text],
            column_types={**{name: value_type for name in wanted}, **{name: pa.binary() for name in text}},
            null_values=MISSING_TOKENS, strings_can_be_null=False),
    )
    return table, invalid


def parse(data: bytes, path: Path, names: Sequence[str], wanted: Sequence[str], header: bool,
          text: Sequence[str] = ()) -> ParsedTable:
    """Parse comma-separated `data` (columns `names`) keeping the numeric columns `wanted` (and the columns `text`
    as strings, e.g. a category).

    Typed columns first; only a file with a value that is not a number is read again as bytes, checked value by
    value (vectorised), so that row can be named."""
    # Bytes beyond ASCII (garbage in these ASCII formats) become '?', which pyarrow can report as text.
    readable = data if data.isascii() else data.translate(_NON_ASCII_TO_QUESTION_MARK)
    junk = None
    try:
        table, invalid = _read(readable, names, wanted, header, pa.float64(), text)
        columns = {name: table.column(name).to_numpy().astype(np.float64) for name in wanted}
    except pa.ArrowInvalid:
        try:
            table, invalid = _read(readable, names, wanted, header, pa.binary(), text)
        except pa.ArrowException as exc:
            raise FileFormatError(f"{path}: cannot be parsed ({str(exc).splitlines()[0]})") from None
        columns, junk, junk_detail = _numbers_from_bytes(table, wanted)
    texts = {name: pc.utf8_trim_whitespace(pc.cast(table.column(name), pa.string())).to_numpy(zero_copy_only=False)
             for name in text}  # `readable` is ASCII, so every value decodes

    first_line = 2 if header else 1
    data_lines = table.num_rows + len(invalid)
    bad_lines = np.array(sorted(number for number, _ in invalid), dtype=np.int64)
    source_line = np.setdiff1d(np.arange(first_line, first_line + data_lines, dtype=np.int64), bad_lines,
                               assume_unique=True)
    fields = dict(invalid)
    rejected = [pd.DataFrame({
        "source_line": bad_lines,
        "reason": "unparsable_line",
        "detail": [f"{fields[number]} fields, expected {len(names)}" for number in bad_lines],
        "raw_text": lines_at(data, bad_lines),
    })]
    if junk is not None and junk.any():
        rejected.append(pd.DataFrame({
            "source_line": source_line[junk], "reason": "non_numeric", "detail": junk_detail[junk],
            "raw_text": lines_at(data, source_line[junk]),
        }))
        columns = {name: values[~junk] for name, values in columns.items()}
        texts = {name: values[~junk] for name, values in texts.items()}
        source_line = source_line[~junk]
    parsed = ParsedTable(columns, source_line, pd.concat(rejected, ignore_index=True).astype({"source_line": "int64"}),
                         data_lines, texts)
    return _reject_blank_lines(parsed, data)


def _numbers_from_bytes(table: pa.Table, wanted: Sequence[str]) -> Tuple[Dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Float columns from byte columns; rows with a value that is neither a number nor a missing-value token are
    junk, described by their first bad column."""
    columns: Dict[str, np.ndarray] = {}
    junk = np.zeros(table.num_rows, bool)
    junk_detail = np.full(table.num_rows, "", dtype=object)
    missing_tokens = pa.array([token.encode() for token in MISSING_TOKENS], pa.binary())
    for name in wanted:
        value = pc.replace_substring_regex(table.column(name), r"^\s+|\s+$", "")
        missing = pc.is_in(value, value_set=missing_tokens)
        number = pc.match_substring_regex(value, NUMBER_PATTERN)
        as_text = pc.if_else(pc.and_(number, pc.invert(missing)), value, pa.scalar(b"nan", pa.binary()))
        columns[name] = pc.cast(as_text, pa.float64()).to_numpy()
        bad = ~pc.or_(missing, number).to_numpy(zero_copy_only=False)
        first_bad = bad & ~junk
        if first_bad.any():
            values = value.to_numpy(zero_copy_only=False)[first_bad]
            junk_detail[first_bad] = [f"column {name!r} = {v.decode('utf-8', errors='replace')!r}" for v in values]
        junk |= bad
    return columns, junk, junk_detail


def _reject_blank_lines(parsed: ParsedTable, data: bytes) -> ParsedTable:
    """Blank lines come back as rows of empty fields; they are unparsable lines, not missing values."""
    if not len(parsed):
        return parsed
    stacked = np.column_stack([np.isnan(values) for values in parsed.columns.values()])
    candidates = np.flatnonzero(stacked.all(axis=1))
    if not candidates.size:
        return parsed
    texts = lines_at(data, parsed.source_line[candidates])
    blank = np.array([not text.strip() for text in texts], dtype=bool)
    if not blank.any():
        return parsed
    rows = candidates[blank]
    rejected = pd.DataFrame({"source_line": parsed.source_line[rows], "reason": "unparsable_line",
                             "detail": "blank line", "raw_text": ""})
    kept = np.ones(len(parsed), bool)
    kept[rows] = False
    return ParsedTable({name: values[kept] for name, values in parsed.columns.items()}, parsed.source_line[kept],
                       pd.concat([parsed.rejected, rejected], ignore_index=True), parsed.data_lines,
                       {name: values[kept] for name, values in parsed.text.items()})


def lines_at(data: bytes, line_numbers: np.ndarray) -> List[str]:
    """The text of the given 1-based lines of `data` (without the line break)."""
    if not len(line_numbers):
        return []
    breaks = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(data)]])
    index = np.asarray(line_numbers, dtype=np.int64) - 1
    return [data[starts[i]:ends[i]].decode("utf-8", errors="replace").rstrip("\r") for i in index]


def require_columns(available: Sequence[str], required: Sequence[str], path: Path) -> None:
    absent = [name for name in required if name not in available]
    if absent:
        raise FileFormatError(f"{path}: missing required column {absent[0]!r} (header has: {', '.join(available)})")


def first_field_count(data: bytes) -> Optional[int]:
    """Number of comma-separated fields on the first non-blank line, None for a file without one."""
    for line in data[: 1 << 16].split(b"\n")[:50]:
        if line.strip(b"\r\n ,"):
            return line.count(b",") + 1
    return None

