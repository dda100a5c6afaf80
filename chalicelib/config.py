"""Settings from the environment, read once.

Stage values live in `.chalice/config.json`; Chalice exports them as environment variables
before `app.py` is imported. This is the only module that reads `os.environ`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import cache
from typing import Literal

import msgspec

AuthMode = Literal["cognito", "local-jwt"]

# A syntactically valid ARN so that `app.py` imports (tests, `chalice package`) without a
# deployed pool; `make deploy` writes the real one into the stage's environment variables.
PLACEHOLDER_POOL_ARN = "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_placeholder"
# The same for the event sources: `make deploy` writes the table's stream ARN and the topic ARN.
PLACEHOLDER_STREAM_ARN = (
    "arn:aws:dynamodb:us-east-1:000000000000:table/people-placeholder/stream/1970-01-01T00:00:00.000"
)
PLACEHOLDER_TOPIC_ARN = "arn:aws:sns:us-east-1:000000000000:people-placeholder-changes"
PLACEHOLDER_DELIVERY_QUEUE = "people-placeholder-webhook-deliveries"
DEFAULT_HISTORY_TTL_DAYS = 90
# API Gateway gives up on a Lambda integration after 29 s; a request's storage calls, with
# every retry, must end (as a 503) well before that, or the client gets a bare 504.
API_GATEWAY_TIMEOUT_SECONDS = 29.0
STORAGE_BUDGET_SECONDS = 25.0


class ConfigError(RuntimeError):
    """A required setting is missing or malformed."""


class AuthSettings(msgspec.Struct, frozen=True):
    """What `app.py` needs at import time to choose and wire the authorizer."""

    mode: AuthMode
    user_pool_arn: str


class EventSources(msgspec.Struct, frozen=True):
    """What `app.py` needs at import time to register the stream and SNS handlers."""

    stream_arn: str
    topic_arn: str
    # The SQS queue (its name) the webhook deliverer consumes.
    delivery_queue: str = PLACEHOLDER_DELIVERY_QUEUE


class WebhookSettings(msgspec.Struct, frozen=True):
    """Webhook delivery: where messages go, the key that seals secrets, where requests may go."""

    delivery_queue_url: str = ""
    failure_queue_url: str = ""
    secrets_key_id: str = ""
    # Loopback receivers (http://127.0.0.1:...) for development: the local stage only.
    allow_loopback: bool = False
    # AWS_LAMBDA_RUNTIME_API: the deliverer never connects there, whatever the policy.
    lambda_runtime_api: str | None = None

    def secrets_key(self) -> str:
        return self._needed(self.secrets_key_id, "WEBHOOK_SECRETS_KEY")

    def delivery_queue(self) -> str:
        return self._needed(self.delivery_queue_url, "WEBHOOK_DELIVERY_QUEUE_URL")

    def failure_queue(self) -> str:
        return self._needed(self.failure_queue_url, "WEBHOOK_FAILURE_QUEUE_URL")

    @staticmethod
    def _needed(value: str, name: str) -> str:
        if not value or value in PLACEHOLDER_SECRETS:
            raise ConfigError(f"environment variable {name} is required for webhooks (make deploy sets it)")
        return value


class Settings(msgspec.Struct, frozen=True):
    """Everything the request path needs, resolved once per process."""

    stage: str
    region: str
    table_name: str
    # The cursor HMAC key: deployed stages name an SSM SecureString (read on first use of a
    # cursor, see wiring.cursors); the local stage may give the key itself.
    cursor_secret: bytes | None
    cursor_secret_parameter: str | None
    auth: AuthSettings
    user_pool_id: str
    app_client_id: str
    jwks_url: str
    ddb_connect_timeout: float
    ddb_read_timeout: float
    ddb_max_attempts: int
    events: EventSources
    history_ttl_days: int
    webhooks: WebhookSettings = WebhookSettings()

    @property
    def ddb_worst_case_seconds(self) -> float:
        """The longest one storage call can take: every attempt timing out, with full backoff.

        `ddb_max_attempts` counts retries after the first attempt; botocore's standard mode
        waits up to 2**(n-1) s (at most 20 s) before retry n.
        """
        attempts = 1 + self.ddb_max_attempts
        backoff = sum(min(2.0 ** (n - 1), 20.0) for n in range(1, attempts))
        return attempts * (self.ddb_connect_timeout + self.ddb_read_timeout) + backoff

    @property
    def event_source(self) -> str:
        """The CloudEvents `source` of this stage's change events."""
        return f"people-api/{self.stage}"

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"


def _auth_from(env: Mapping[str, str]) -> AuthSettings:
    mode = env.get("AUTH_MODE", "cognito")
    if mode not in ("cognito", "local-jwt"):
        raise ConfigError(f"AUTH_MODE must be 'cognito' or 'local-jwt', not {mode!r}")
    arn = env.get("COGNITO_USER_POOL_ARN") or PLACEHOLDER_POOL_ARN
    return AuthSettings(mode=mode, user_pool_arn=arn)  # type: ignore[arg-type]


def _events_from(env: Mapping[str, str]) -> EventSources:
    return EventSources(
        stream_arn=env.get("TABLE_STREAM_ARN") or PLACEHOLDER_STREAM_ARN,
        topic_arn=env.get("CHANGES_TOPIC_ARN") or PLACEHOLDER_TOPIC_ARN,
        delivery_queue=env.get("WEBHOOK_DELIVERY_QUEUE") or PLACEHOLDER_DELIVERY_QUEUE,
    )


def _webhooks_from(env: Mapping[str, str], stage: str) -> WebhookSettings:
    raw = env.get("WEBHOOKS_ALLOW_LOOPBACK", "").strip().lower()
    if raw not in ("", "0", "false", "1", "true"):
        raise ConfigError(f"WEBHOOKS_ALLOW_LOOPBACK must be true or false, not {raw!r}")
    allow_loopback = raw in ("1", "true")
    if allow_loopback and stage != "local":
        raise ConfigError(
            f"WEBHOOKS_ALLOW_LOOPBACK is for the local stage only; "
            f"stage {stage!r} must not deliver to loopback"
        )
    return WebhookSettings(
        delivery_queue_url=env.get("WEBHOOK_DELIVERY_QUEUE_URL", "").strip(),
        failure_queue_url=env.get("WEBHOOK_FAILURE_QUEUE_URL", "").strip(),
        secrets_key_id=env.get("WEBHOOK_SECRETS_KEY", "").strip(),
        allow_loopback=allow_loopback,
        lambda_runtime_api=env.get("AWS_LAMBDA_RUNTIME_API") or None,
    )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is required (set it in .chalice/config.json)")
    return value


# Values that stand in for a key in a configuration file: never used to sign anything.
PLACEHOLDER_SECRETS = frozenset({"", "set-by-make-deploy", "replace-at-deploy"})


def _cursor_secret(env: Mapping[str, str]) -> bytes | None:
    value = env.get("CURSOR_SECRET", "").strip()
    return None if value in PLACEHOLDER_SECRETS else value.encode()


def _number(env: Mapping[str, str], name: str, default: str) -> float:
    raw = env.get(name, default)
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be a number, not {raw!r}") from None


def _history_ttl_days(env: Mapping[str, str]) -> int:
    days = _number(env, "HISTORY_TTL_DAYS", str(DEFAULT_HISTORY_TTL_DAYS))
    if days != int(days) or days < 1:
        raise ConfigError(f"HISTORY_TTL_DAYS must be a whole number of days >= 1, not {days!r}")
    return int(days)


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build settings from a mapping of environment variables; raise ConfigError if incomplete."""
    auth = _auth_from(env)
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    pool_id = env.get("COGNITO_USER_POOL_ID", "")
    if not pool_id and auth.user_pool_arn != PLACEHOLDER_POOL_ARN:
        pool_id = auth.user_pool_arn.rsplit("/", 1)[-1]
    client_id = env.get("COGNITO_APP_CLIENT_ID", "")
    if auth.mode == "local-jwt":
        # The local verifier checks iss and aud itself, so it cannot run without them.
        pool_id = _required(env, "COGNITO_USER_POOL_ID")
        client_id = _required(env, "COGNITO_APP_CLIENT_ID")
    jwks_url = env.get("COGNITO_JWKS_URL") or (
        f"https://cognito-idp.{region}.amazonaws.com/{pool_id}/.well-known/jwks.json"
    )
    stage = env.get("STAGE", "dev")
    loaded = Settings(
        stage=stage,
        region=region,
        table_name=_required(env, "TABLE_NAME"),
        cursor_secret=_cursor_secret(env),
        cursor_secret_parameter=env.get("CURSOR_SECRET_PARAMETER", "").strip() or None,
        auth=auth,
        user_pool_id=pool_id,
        app_client_id=client_id,
        jwks_url=jwks_url,
        ddb_connect_timeout=_number(env, "DDB_CONNECT_TIMEOUT", "1"),
        ddb_read_timeout=_number(env, "DDB_READ_TIMEOUT", "3"),
        ddb_max_attempts=int(_number(env, "DDB_MAX_ATTEMPTS", "3")),
        events=_events_from(env),
        history_ttl_days=_history_ttl_days(env),
        webhooks=_webhooks_from(env, stage),
    )
    if loaded.ddb_max_attempts < 0 or loaded.ddb_connect_timeout <= 0 or loaded.ddb_read_timeout <= 0:
        raise ConfigError("DDB_CONNECT_TIMEOUT and DDB_READ_TIMEOUT must be > 0, DDB_MAX_ATTEMPTS >= 0")
    if loaded.ddb_worst_case_seconds > STORAGE_BUDGET_SECONDS:
        raise ConfigError(
            f"DDB_CONNECT_TIMEOUT, DDB_READ_TIMEOUT and DDB_MAX_ATTEMPTS allow a storage call to take "
            f"{loaded.ddb_worst_case_seconds:g} s; keep it under {STORAGE_BUDGET_SECONDS:g} s "
            f"(API Gateway stops waiting at {API_GATEWAY_TIMEOUT_SECONDS:g} s)"
        )
    return loaded


def auth_settings() -> AuthSettings:
    """The authorizer choice, read at import by `app.py`; only a malformed AUTH_MODE fails."""
    return _auth_from(os.environ)


def event_sources() -> EventSources:
    """The stream and topic the event handlers subscribe to, read at import by `app.py`."""
    return _events_from(os.environ)


@cache
def cors_allowed_origins() -> frozenset[str]:
    """The browser origins this stage grants CORS to (CORS_ALLOWED_ORIGINS; empty: none)."""
    try:
        return parse_allowed_origins(os.environ.get("CORS_ALLOWED_ORIGINS", ""))
    except InvalidOrigins as exc:
        raise ConfigError(f"CORS_ALLOWED_ORIGINS: {exc}") from None


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


@cache
def settings() -> Settings:
    """The process-wide settings, loaded on first use."""
    return load_settings(os.environ)
