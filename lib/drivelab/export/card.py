"""The model card that travels with an export: lineage, metrics, the input and output contract, the normalisation
inside the graph, and the export's parity and latency, as JSON (for machines, the gate) and Markdown (for people)."""

from __future__ import annotations

from typing import Any, Dict, List

CARD_JSON = "card.json"
CARD_MARKDOWN = "card.md"
LINEAGE_KEYS = ("git_commit", "git_dirty", "data_version", "windows_dir", "seed", "model", "tracking_id", "command",
                "started_at", "finished_at", "status")


def lineage(manifest: Dict[str, Any]) -> Dict[str, Any]:
    """What the run was made from, as its manifest records it (no secrets live there)."""
    return {key: manifest.get(key) for key in LINEAGE_KEYS if key in manifest}


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-2 or abs(value) >= 1e4 else f"{value:.3f}"
    return "-" if value is None else str(value)


def _tensor_rows(specs: List[Dict[str, Any]]) -> List[str]:
    rows = ["| name | shape | dtype | unit | meaning |", "|---|---|---|---|---|"]
    for spec in specs:
        shape = " x ".join(f"{dim} ({size})" if dim != size else str(dim)
                           for dim, size in zip(spec["dimensions"], spec["shape"]))
        rows.append(f"| `{spec['name']}` | {shape} | {spec['dtype']} | {spec['unit']} | {spec['description']} |")
    return rows


def markdown(card: Dict[str, Any]) -> str:
    """The card as Markdown: a page a consumer of the exported files can work from."""
    lines = [f"# Model card: {card['model']['name']}", "",
             f"Task: {card['model']['task']}. Exported {card['exported_at']} from run `{card['run']['path']}` "
             f"(checkpoint `{card['checkpoint']['file'] or 'none: no weights'}`).", "", "## Files", ""]
    for name, entry in card["formats"].items():
        status = f"`{entry['file']}`" if "error" not in entry else f"not exported: {entry['error']}"
        lines.append(f"- {name}: {status}")
    lines += ["", "## Lineage", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {_cell(value)} |" for key, value in card["lineage"].items()]
    if card["metrics"]:
        lines += ["", "## Test metrics (the run's own test split)", "", "| metric | value |", "|---|---|"]
        lines += [f"| {name} | {_cell(value)} |" for name, value in card["metrics"].items()]
    if card.get("slices"):
        lines += ["", "## Per slice (RMSE@5s, m; count)", "", "| slice | model | constant velocity | windows |",
                  "|---|---|---|---|"]
        for name, entry in card["slices"].items():
            lines.append(f"| {name} | {_cell(entry.get('model'))} | {_cell(entry.get('baseline'))} | "
                         f"{entry.get('count', '-')} |")
    lines += ["", "## Inputs", "", f"Frame: {card['frame']}. Raw values: normalisation happens inside the graph.", ""]
    lines += _tensor_rows(card["inputs"])
    lines += ["", "## Outputs", ""] + _tensor_rows(card["outputs"])
    lines += ["", "## Normalisation inside the graph (fitted on the training split)", "",
              "| statistic | values |", "|---|---|"]
    lines += [f"| {name} | {', '.join(_cell(float(v)) for v in values)} |"
              for name, values in card["normalisation"].items()]
    lines += ["", "## Parity with the PyTorch model (max abs difference)", "",
              f"Tolerance {card['parity_tolerance_m']:g} m + 1e-6 x the value (float32 cannot hold 1e-5 m beyond "
              "a few metres); inputs: real test windows and random valid inputs.", "",
              "| format | batch | inputs | max abs diff | within tolerance |", "|---|---|---|---|---|"]
    for name, entry in card["formats"].items():
        for case in entry.get("parity", {}).get("cases", []):
            lines.append(f"| {name} | {case['batch']} | {case['inputs']} | {case['max_abs_diff']:.2e} | "
                         f"{'yes' if case['within_tolerance'] else 'NO'} |")
    machine = card["machine"]
    lines += ["", "## CPU latency per call", "",
              f"{machine['threads']} thread(s) on {machine['processor']} ({machine['cpu_count']} cores); "
              f"after warm-up calls, over timed calls.", "",
              "| runtime | batch | p50 ms | p99 ms | calls |", "|---|---|---|---|---|"]
    for name, entry in card["latency"].items():
        for result in entry:
            lines.append(f"| {name} | {result['batch']} | {result['p50_ms']:.3f} | {result['p99_ms']:.3f} | "
                         f"{result['calls']} |")
    lines += ["", "## Versions", ""] + [f"- {name} {version}" for name, version in card["packages"].items()]
    return "\n".join(lines) + "\n"
