"""CORS (the Fetch standard's CORS protocol) for the stage's allowed browser origins.

Which headers a response carries for a request's `Origin` (the allowed origins are a setting:
`config.cors_allowed_origins`). The app's middleware adds them to every response it sends
(preflight, success and error alike) with `with_cors`, and the local stack's `chalice local`
shim adds them to the answers it gives itself (401, 404), so a browser on an allowed origin can
read every answer, and a page on any other origin gets none.

The API reads credentials from the `Authorization` header only (never cookies), so no
`Access-Control-Allow-Credentials`; an origin is granted by echoing it exactly, never `*`.
"""

from __future__ import annotations

from collections.abc import Iterable

from chalice.app import Request, Response

# Everything the API answers; a method a path lacks still gets its 405 problem through CORS.
ALLOW_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# The request headers the API reads (beyond the CORS-safelisted ones).
ALLOW_HEADERS = ("Authorization", "Content-Type", "If-Match", "Idempotency-Key")
# The response headers a client needs, beyond the safelisted ones (Content-Type, ...).
EXPOSE_HEADERS = ("ETag", "Location", "Link", "Retry-After", "Idempotent-Replayed")
# How long a browser may cache a preflight answer (Chromium caps it at 2 hours).
MAX_AGE_SECONDS = 600


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


def with_cors(request: Request, response: Response, allowed: Iterable[str]) -> Response:
    """The response with the CORS headers for the request's Origin (only `Vary` for others)."""
    headers = cors_headers(request.headers.get("origin"), allowed)
    existing = response.headers.get("Vary")
    response.headers.update(add_vary(existing if isinstance(existing, str) else None, headers))
    return response
