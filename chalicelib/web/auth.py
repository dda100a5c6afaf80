"""The caller, from the claims the authorizer verified (API Gateway's Cognito authorizer, or the
local stage's verifier, which hands the routes the same shape)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from chalicelib.errors import Unauthenticated
from chalicelib.services import Caller

ADMIN_GROUP: Final = "admins"


def groups_from(raw: Any) -> frozenset[str]:
    """`cognito:groups` as a set, whether a JSON list (local) or API Gateway's string form.

    API Gateway flattens claims to strings: one group arrives as "admins", several as
    "[admins, editors]" or "admins,editors" depending on the integration.
    """
    if raw is None:
        return frozenset()
    if isinstance(raw, (list, tuple)):
        items = [str(item) for item in raw]
    else:
        items = str(raw).strip().strip("[]").replace(",", " ").split()
    return frozenset(item.strip() for item in items if item.strip())


def caller_from_context(context: Mapping[str, Any] | None) -> Caller:
    """The caller identified by the authorizer, or Unauthenticated."""
    authorizer = (context or {}).get("authorizer") or {}
    claims = authorizer.get("claims") or {}
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Unauthenticated("no verified identity reached the API")
    return Caller(sub=sub, is_admin=ADMIN_GROUP in groups_from(claims.get("cognito:groups")))
