"""Successful responses: JSON bodies encoded once with msgspec, and the ETag of a version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec
from chalice.app import Response

JSON: Final = "application/json"
MERGE_PATCH: Final = "application/merge-patch+json"

_encoder = msgspec.json.Encoder()


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response encoded with msgspec."""
    return Response(
        body=_encoder.encode(body).decode(),
        status_code=status,
        headers={"Content-Type": JSON, **(headers or {})},
    )


def etag(version: int) -> str:
    """A version as a strong entity tag."""
    return f'"{version}"'
