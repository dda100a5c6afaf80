"""Figures and the results table (bench/results.json, bench/RESULTS.md)."""

from __future__ import annotations

import json
import platform
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PASS = "pass"
SHORT = "falls short"
PENDING = "not measured yet"
INFO = "info"


@dataclass
class Figure:
    """One row of the table. `value` is None when the figure could not be measured."""

    key: str
    section: str
    name: str
    value: float | None
    unit: str
    shown: str  # the value as the table shows it
    reference: str  # the side-by-side reference, measured in the same run
    goal: str
    status: str
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def pending(key: str, section: str, name: str, goal: str, reason: str) -> Figure:
    """A figure that cannot be measured yet, and why. Never a made-up number."""
    return Figure(key, section, name, None, "", "—", "—", goal, PENDING, reason)


def median(samples: Sequence[float]) -> float:
    return float(statistics.median(samples))


def verdict(ok: bool) -> str:
    return PASS if ok else SHORT


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} µs"


def write(figures: Iterable[Figure], out_dir: Path, meta: dict[str, Any], baseline: Path | None) -> None:
    figures = list(figures)
    before: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    if baseline is not None and baseline.exists():
        saved = json.loads(baseline.read_text())
        before = {f["key"]: f for f in saved["figures"]}
        notes = saved["meta"].get("notes", [])
    meta = {"python": platform.python_version(), "machine": platform.machine(), **meta}
    (out_dir / "results.json").write_text(
        json.dumps({"meta": meta, "figures": [asdict(f) for f in figures]}, indent=2) + "\n"
    )
    (out_dir / "RESULTS.md").write_text(render(figures, meta, before, notes))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(
    figures: list[Figure], meta: dict[str, Any], before: dict[str, dict[str, Any]], notes: Sequence[str] = ()
) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m bench`); do not edit by hand. Times are medians; every",
        "ratio compares figures measured in the same run, because the machine is shared and noisy.",
        "Method and how to add a figure: `bench/__main__.py`.",
        "",
        f"Run: {meta.get('when', '?')}, Python {meta['python']} on {meta['machine']}, "
        f"{meta.get('cpus', '?')} CPUs, {meta.get('mode', 'full')} mode, "
        f"{meta.get('seconds', 0):.0f} s"
        + (
            f", 1-minute load average {min(meta['load']):.1f}–{max(meta['load']):.1f} between sections."
            if meta.get("load")
            else "."
        ),
        "",
    ]
    if meta.get("children"):
        lines += [
            f"Cold-start, warm and profile children (sections 2, 3, 6): {meta['children']}; "
            f"the other sections: Python {meta['python']}. Verdicts: pass or fail only when the "
            "confidence interval of the median paired ratio is clear of the goal, else within noise.",
            "",
        ]
    sections: dict[str, list[Figure]] = {}
    for figure in figures:
        sections.setdefault(figure.section, []).append(figure)
    with_before = any(f.key in before for f in figures)
    for section, rows in sections.items():
        lines += [f"## {section}", ""]
        head = ["Figure", "Ours", "Side by side", "Goal", "Result"]
        if with_before:
            head.insert(2, "Before fixes")
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for f in rows:
            cells = [f.name, f.shown, f.reference, f.goal, f.status + (f": {f.note}" if f.note else "")]
            if with_before:
                old = before.get(f.key)
                cells.insert(2, old["shown"] if old and old["shown"] != f.shown else "")
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
        note = meta.get("section_notes", {}).get(section)
        if note:
            lines += [note, ""]
    if with_before:
        lines += [
            '"Before fixes" is `bench/baseline.json`: the same suite run on the commit before the',
            "performance fixes (blank where the figure did not change). Its times come from another run,",
            "so compare its ratios, not its absolute times.",
            *[line for note in notes for line in ("", note)],
            "",
        ]
    return "\n".join(lines)
