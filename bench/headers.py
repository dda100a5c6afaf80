"""Header parsing under attack: the worst time to parse a 1 KiB If-Match or Idempotency-Key.

Each adversarial value is parsed many times in a row (`timeit`), and the median of several
such runs per value is kept; the figure is the worst value's median. Beside it, for scale, the
If-Match pattern this project used before: it backtracks exponentially, so it is timed on a
value of only 35 bytes (each further ", " doubles its time; 57 bytes ran past Lambda's timeout).
"""

from __future__ import annotations

import contextlib
import re
import statistics
import timeit

from bench.report import Figure, verdict

SECTION = "6. Header parsing under attack (no backtracking)"
GOAL_SECONDS = 0.001
_OLD_IF_MATCH = (
    r'^[ \t]*(?:\*|(?:(?:W/)?"[\x21\x23-\x7e\x80-\xff]*")?'
    r'(?:[ \t]*,[ \t]*(?:(?:W/)?"[\x21\x23-\x7e\x80-\xff]*")?)*)[ \t]*$'
)


def _fit(unit: str, tail: str = "") -> str:
    """`unit` repeated to 1,024 characters in all (with `tail` at the end)."""
    body = unit * ((1024 - len(tail)) // len(unit) + 1)
    return body[: 1024 - len(tail)] + tail


ATTACKS: dict[str, str] = {
    "If-Match: the old attack (`, , , ..., x`)": _fit(", ", "x"),
    'If-Match: quote, comma, space (`", ", ...`)': _fit('", ', "x"),
    "If-Match: empty list elements (`, , , ...`)": _fit(", "),
    "If-Match: 146 weak tags": _fit('W/"1",'),
    "If-Match: 170 strong tags": _fit('"123",'),
    "If-Match: one 1 KiB opaque tag, unterminated": '"' + "a" * 1023,
    "If-Match: tabs and spaces, then a bad character": _fit(" \t", "\x01"),
    "Idempotency-Key: a quoted string of escapes": '"' + _fit("\\\\", '"')[1:],
    "Idempotency-Key: an unterminated quoted string": '"' + "k" * 1023,
}


def _time(parse: object, value: str, number: int = 200, repeat: int = 7) -> float:
    def once() -> None:
        with contextlib.suppress(Exception):  # a 400 is the expected answer to most of these
            parse(value)  # type: ignore[operator]

    return statistics.median(timeit.repeat(once, number=number, repeat=repeat)) / number


def run() -> list[Figure]:
    from chalicelib.web.headers import parse_idempotency_key, parse_if_match

    times = {
        name: _time(parse_if_match if name.startswith("If-Match") else parse_idempotency_key, value)
        for name, value in ATTACKS.items()
    }
    worst_name, worst = max(times.items(), key=lambda item: item[1])
    old = re.compile(_OLD_IF_MATCH)
    old_time = _time(old.match, ", " * 17 + "x", number=1, repeat=3)
    return [
        Figure(
            "headers.worst_parse_1kib",
            SECTION,
            "worst parse time of a 1 KiB If-Match or Idempotency-Key (8 adversarial shapes)",
            worst,
            "s",
            f"{worst * 1e6:.0f} µs ({worst_name})",
            f"the old If-Match pattern: {old_time * 1e3:.0f} ms on 35 bytes, doubling per 2 bytes more",
            "< 1 ms",
            verdict(worst < GOAL_SECONDS),
            detail={"per_shape_seconds": times, "old_pattern_35_bytes_seconds": old_time},
        )
    ]
