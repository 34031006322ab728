"""Recordings -> canonical tracks: source formats read through one registry (`sources`), then cleaned.

`sources` names the reader of each format (`highd`, `ngsim`, `interaction`), `ingest` runs one over a source's
recordings into raw canonical rows (`raw`), `clean` validates them into the canonical track table (`canonical`),
quarantining what it cannot keep. `delimited` reads the text files defensively for every reader.
"""
