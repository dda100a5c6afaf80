"""Caller identity from the authorizer context, and the local stage's JWT verifier.

Deployed stages use API Gateway's Cognito user-pool authorizer, which verifies the token and
hands the route `requestContext.authorizer.claims` (all values strings). `chalice local` does
not verify Cognito tokens at all, so the `local` stage uses `verify_local_token` instead: a
Chalice built-in authorizer that really checks the ID token against the user pool's JWKS and
hands the routes the same claims shape.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from chalicelib.errors import Unauthenticated
from chalicelib.services import Caller

if TYPE_CHECKING:
    import jwt

    from chalicelib.config import Settings

log = logging.getLogger("people_api")

ADMIN_GROUP = "admins"
LEEWAY_SECONDS = 30


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


@cache
def _jwks_client(url: str) -> jwt.PyJWKClient:
    import jwt

    # Keys are fetched once and cached; an unknown key id triggers one refetch.
    return jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=3600, timeout=5)


def decode_id_token(token: str, settings: Settings) -> dict[str, Any]:
    """Verify a Cognito ID token (RS256 signature, exp, iat, nbf, iss, aud, token_use)."""
    import jwt

    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    try:
        key = _jwks_client(settings.jwks_url).get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            audience=settings.app_client_id,
            issuer=settings.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "token_use"]},
        )
    except jwt.PyJWKClientConnectionError as exc:
        log.error("cannot fetch the user pool's JWKS from %s: %s", settings.jwks_url, exc)
        raise Unauthenticated("the token could not be verified") from None
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"invalid token: {exc}") from None
    if claims.get("token_use") != "id":
        raise Unauthenticated("an ID token is required, not an access token")
    iat = claims.get("iat")
    import time

    if isinstance(iat, (int, float)) and iat > time.time() + LEEWAY_SECONDS:
        raise Unauthenticated("invalid token: issued in the future")
    return claims


def authorize_local(auth_request: Any) -> Any:
    """Chalice built-in authorizer for the `local` stage: verify, or answer 401 problem+json.

    Raising chalice.local's NotAuthorizedError is how `chalice local` (and Chalice's test
    client) let an authorizer answer 401, as API Gateway does when Cognito rejects a token;
    any other exception would drop the connection. Never used on deployed stages.
    """
    from chalice.app import AuthResponse
    from chalice.local import NotAuthorizedError

    from chalicelib.config import settings
    from chalicelib.http import problem_for

    try:
        claims = decode_id_token(auth_request.token or "", settings())
    except Unauthenticated as exc:
        rejected = problem_for(exc)
        raise NotAuthorizedError(rejected.headers, rejected.body.encode()) from None
    except Exception:
        log.exception("local authorizer failed")
        rejected = problem_for(Unauthenticated("the token could not be verified"))
        raise NotAuthorizedError(rejected.headers, rejected.body.encode()) from None
    context: dict[str, Any] = {"claims": claims}
    return AuthResponse(routes=["*"], principal_id=claims["sub"], context=context)
