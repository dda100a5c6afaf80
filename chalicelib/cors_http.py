"""CORS on the HTTP edge: preflight routes without the authorizer, and the headers on every response.

The rules (which origin gets which headers) are in `chalicelib/cors.py`; this module only
attaches them to Chalice. A preflight (`OPTIONS`) carries no `Authorization` header, so its
route must not have the authorizer: on API Gateway and in `chalice local` a route's
authorizer is per method, and these `OPTIONS` routes have none.
"""

from __future__ import annotations

from chalice.app import Blueprint, Request, Response

from chalicelib.config import cors_allowed_origins
from chalicelib.cors import add_vary, cors_headers

bp = Blueprint(__name__)

# Every path of the API (a test checks this equals the app's paths).
PATHS = ("/health", "/openapi.json", "/people", "/people/{person_id}", "/people/{person_id}/history")


def preflight(**_path_params: str) -> Response:
    """Answer a CORS preflight: 204, with the grant (if any) added by `with_cors`."""
    return Response(body="", status_code=204)


for _path in PATHS:
    bp.route(_path, methods=["OPTIONS"])(preflight)


def with_cors(request: Request, response: Response) -> Response:
    """The response with the CORS headers for the request's Origin (only `Vary` for others)."""
    headers = cors_headers(request.headers.get("origin"), cors_allowed_origins())
    existing = response.headers.get("Vary")
    response.headers.update(add_vary(existing if isinstance(existing, str) else None, headers))
    return response
