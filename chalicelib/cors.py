"""CORS (the Fetch standard's CORS protocol) for the stage's allowed browser origins.

Pure functions: which headers a response carries for a request's `Origin`. The app's HTTP
middleware adds them to every response it sends (preflight, success and error alike), and the
local stack's `chalice local` shim adds them to the answers it gives itself (401, 404), so a
browser on an allowed origin can read every answer, and a page on any other origin gets none.

The API reads credentials from the `Authorization` header only (never cookies), so no
`Access-Control-Allow-Credentials`; an origin is granted by echoing it exactly, never `*`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Everything the API answers; a method a path lacks still gets its 405 problem through CORS.
ALLOW_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# The request headers the API reads (beyond the CORS-safelisted ones).
ALLOW_HEADERS = ("Authorization", "Content-Type", "If-Match", "Idempotency-Key")
# The response headers a client needs, beyond the safelisted ones (Content-Type, ...).
EXPOSE_HEADERS = ("ETag", "Location", "Link", "Retry-After", "Idempotent-Replayed")
# How long a browser may cache a preflight answer (Chromium caps it at 2 hours).
MAX_AGE_SECONDS = 600

# scheme://host[:port], as browsers serialise an origin: no path, no trailing slash.
_ORIGIN = re.compile(r"^https?://[a-z0-9.\-]+(?::[0-9]{1,5})?$|^https?://\[[0-9a-f:.]+\](?::[0-9]{1,5})?$")


class InvalidOrigins(ValueError):
    """The configured origin list holds something that is not an origin."""


def parse_allowed_origins(raw: str) -> frozenset[str]:
    """The allowed origins from a comma- or space-separated list; empty means no browser access.

    Each entry must be an origin (`https://console.example.com`, `http://127.0.0.1:8001`):
    `*`, `null`, paths and trailing slashes are refused, so a typo fails at start-up rather
    than silently granting nothing (or everything).
    """
    origins = set()
    for entry in re.split(r"[,\s]+", raw.strip()):
        if not entry:
            continue
        origin = entry.lower()
        if not _ORIGIN.match(origin):
            raise InvalidOrigins(
                f"{entry!r} is not an origin: write scheme://host[:port], "
                "like https://console.example.com (no '*', no path, no trailing slash)"
            )
        origins.add(origin)
    return frozenset(origins)


def cors_headers(origin: str | None, allowed: Iterable[str]) -> dict[str, str]:
    """The CORS headers of any response (preflight or not) to a request from `origin`.

    `Vary: Origin` is always there: the answer depends on the origin, so no cache may hand
    one origin's grant to another. An origin not in `allowed` (or none) gets nothing else.
    """
    headers = {"Vary": "Origin"}
    if origin is None or origin not in allowed:
        return headers
    headers.update(
        {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ",".join(ALLOW_METHODS),
            "Access-Control-Allow-Headers": ",".join(ALLOW_HEADERS),
            "Access-Control-Expose-Headers": ",".join(EXPOSE_HEADERS),
            "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
        }
    )
    return headers


def add_vary(existing: str | None, headers: dict[str, str]) -> dict[str, str]:
    """`headers` with its Vary merged into a response's existing Vary value (if any)."""
    if not existing:
        return headers
    names = [v.strip() for v in existing.split(",") if v.strip()]
    if "origin" not in {n.lower() for n in names}:
        names.append("Origin")
    return {**headers, "Vary": ", ".join(names)}
