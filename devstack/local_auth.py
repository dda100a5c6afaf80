"""The local stage's token verifier: `chalice local` does not verify Cognito tokens, this does.

A Chalice built-in authorizer that checks the ID token against the user pool's JWKS (RS256
signature, exp, iat, nbf, iss, aud, token_use) and hands the routes the same claims shape as
API Gateway's Cognito authorizer. Loaded by the routes only when AUTH_MODE is `local-jwt`; it
lives outside `chalicelib/` because it needs PyJWT and `chalice.local`, which never ship.

It also lets plain `chalice local --stage local` work with no exports: when the environment does
not name the user pool (`make run` and the tests always do), the running local stack's values
are taken from its state file (see `use_running_stack`).

A token it cannot verify is a 401; a server that cannot verify tokens at all (settings missing,
the pool's keys unreachable) is a 500 with one log line saying why, as API Gateway answers an
authorizer configuration error.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import MutableMapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.errors import Unauthenticated
from chalicelib.logs import log_json

if TYPE_CHECKING:
    import jwt

    from chalicelib.config import Settings

log = logging.getLogger("people_api")

LEEWAY_SECONDS = 30


class VerifierUnavailable(Exception):
    """The server cannot verify any token: its settings are incomplete or the keys are unreachable."""


def use_running_stack(environ: MutableMapping[str, str], state: Path) -> str | None:
    """Fill in the running local stack's values for a plain `chalice local --stage local`.

    Only when `environ` does not name the user pool: then the stack that `make emulator` or
    `make run` started describes itself in its state file (`state`), and its emulator endpoint,
    local-only credentials, region, pool and app client are used, overriding any AWS settings of
    the shell, so the local stage never reaches a real AWS account. Returns what is wrong when
    no running stack can be found, else None.
    """
    if environ.get("COGNITO_USER_POOL_ID"):
        return None  # named explicitly (make run, the tests): the environment decides
    try:
        described = json.loads(state.read_text())
    except (OSError, ValueError):
        return (
            f"no running local stack described in {state}: start one with `make emulator` "
            "(or `make run`), or set COGNITO_USER_POOL_ID, COGNITO_APP_CLIENT_ID and AWS_ENDPOINT_URL"
        )
    from devstack.provision import StackInfo

    fields = set(StackInfo.__dataclass_fields__)
    info = StackInfo(**{k: v for k, v in described.items() if k in fields})
    values = info.app_environment()
    # The stream and topic ARNs only register event sources at import, already done by now.
    for name in ("TABLE_STREAM_ARN", "CHANGES_TOPIC_ARN"):
        values.pop(name)
    environ.update(values)
    # The shell's profile is not for the emulator (and one this machine lacks stops the SDK).
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        environ.pop(name, None)
    return None


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
        raise VerifierUnavailable(
            f"cannot fetch the user pool's keys from {settings.jwks_url}: {exc}"
        ) from None
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


def _verifier_settings() -> Settings:
    """The settings the verifier needs; VerifierUnavailable (never a 401) when they are incomplete."""
    from chalicelib.config import ConfigError, settings
    from devstack import state_path

    missing = use_running_stack(os.environ, state_path())
    try:
        return settings()
    except ConfigError as exc:
        raise VerifierUnavailable(missing or str(exc)) from None


def _gateway_answer(error: type[Any], problem: Any) -> Exception:
    """chalice.local's way for an authorizer to answer instead of the route (401 or 500)."""
    from chalicelib.web.problems import encode, problem_headers

    return error(problem_headers(problem.status), encode(problem))  # type: ignore[no-any-return]


def authorize_local(auth_request: Any) -> Any:
    """Chalice built-in authorizer for the `local` stage: verify, or answer 401 (or 500) problem+json.

    Raising chalice.local's NotAuthorizedError is how `chalice local` (and Chalice's test
    client) let an authorizer answer 401, as API Gateway does when Cognito rejects a token;
    InvalidAuthorizerError answers 500, as API Gateway does when its authorizer is misconfigured.
    Any other exception would drop the connection. Never used on deployed stages.
    """
    from chalice.app import AuthResponse
    from chalice.local import InvalidAuthorizerError, NotAuthorizedError

    from chalicelib.web.problems import Problem, problem_for

    try:
        claims = decode_id_token(auth_request.token or "", _verifier_settings())
    except Unauthenticated as exc:
        rejected = problem_for(exc)
        raise NotAuthorizedError(rejected.headers, rejected.body.encode()) from None
    except Exception as exc:
        # The server's own fault, not the token's: say why in the log, 500 to the client.
        log_json(logging.ERROR, "authorizer_unavailable", error=f"{type(exc).__name__}: {exc}")
        problem = Problem(
            type="about:blank",
            title="Internal server error",
            status=500,
            detail="The server cannot verify tokens: its configuration is incomplete (see its log).",
        )
        raise _gateway_answer(InvalidAuthorizerError, problem) from None
    context: dict[str, Any] = {"claims": claims}
    return AuthResponse(routes=["*"], principal_id=claims["sub"], context=context)
