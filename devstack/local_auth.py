"""The local stage's token verifier: `chalice local` does not verify Cognito tokens, this does.

A Chalice built-in authorizer that checks the ID token against the user pool's JWKS (RS256
signature, exp, iat, nbf, iss, aud, token_use) and hands the routes the same claims shape as
API Gateway's Cognito authorizer. Loaded by the routes only when AUTH_MODE is `local-jwt`; it
lives outside `chalicelib/` because it needs PyJWT and `chalice.local`, which never ship.
"""

from __future__ import annotations

import logging
import time
from functools import cache
from typing import TYPE_CHECKING, Any

from chalicelib.errors import Unauthenticated

if TYPE_CHECKING:
    import jwt

    from chalicelib.config import Settings

log = logging.getLogger("people_api")

LEEWAY_SECONDS = 30


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
        # The audience is checked after token_use, so an access token (which has no `aud`)
        # is told what is wrong with it rather than that a claim is missing.
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            issuer=settings.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "sub", "token_use"], "verify_aud": False},
        )
    except jwt.PyJWKClientConnectionError as exc:
        log.error("cannot fetch the user pool's JWKS from %s: %s", settings.jwks_url, exc)
        raise Unauthenticated("the token could not be verified") from None
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"invalid token: {exc}") from None
    if claims.get("token_use") != "id":
        raise Unauthenticated("an ID token is required, not an access token")
    if claims.get("aud") != settings.app_client_id:
        raise Unauthenticated("invalid token: it was issued to another app client (aud)")
    iat = claims.get("iat")
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
    from chalicelib.web.problems import problem_for

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
