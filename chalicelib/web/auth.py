"""The caller, from the claims the authorizer verified (API Gateway's Cognito authorizer, or the
local stage's verifier, which hands the routes the same shape)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from chalicelib.errors import Unauthenticated
from chalicelib.services import Caller

ADMIN_GROUP: Final = "admins"


def groups_from(raw: Any) -> frozenset[str]:
    """`cognito:groups` as a set, in exactly the forms the authorizers produce, and no other.

    The local verifier hands over the token's JSON list. API Gateway flattens claims to
    strings: one group arrives as its name (`admins`), several as a bracketed list separated
    by white space (`[admins editors]`, also `[admins, editors]`). Cognito group names cannot
    contain white space, so that separator is unambiguous; they can contain commas and
    brackets, so an unbracketed string is one group name: `staff,admins`, `admins]` and
    `[admins` are groups of their own, never `admins`.
    """
    if raw is None:
        return frozenset()
    if isinstance(raw, (list, tuple)):
        return frozenset(str(item) for item in raw if str(item))
    text = str(raw)
    if len(text) >= 2 and text[0] == "[" and text[-1] == "]":
        return frozenset(item.removesuffix(",") for item in text[1:-1].split() if item.removesuffix(","))
    return frozenset({text}) if text and not any(c.isspace() for c in text) else frozenset()


def caller_from_context(context: Mapping[str, Any] | None) -> Caller:
    """The caller identified by the authorizer, or Unauthenticated."""
    authorizer = (context or {}).get("authorizer") or {}
    claims = authorizer.get("claims") or {}
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Unauthenticated("no verified identity reached the API")
    return Caller(sub=sub, is_admin=ADMIN_GROUP in groups_from(claims.get("cognito:groups")))
