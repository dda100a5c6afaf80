"""Users and ID tokens for people at a terminal: `make token` and `make user`, local or deployed.

Every failure is an `AccountError` whose message is one line saying what to do; the command
prints it and exits 1, never a traceback. Locally the user is created on first use with the
local password (devstack/tokens.py); on a deployed stage passwords are prompted without echo.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack import ROOT

ADMIN_GROUP = "admins"
Prompt = Callable[[str], str]


class AccountError(Exception):
    """A failure reported to the person as one line."""


@dataclass(frozen=True)
class Pool:
    """A user pool and the app client people sign in with."""

    stage: str
    pool_id: str
    client_id: str
    region: str


def stage_pool(stage: str, chalice_dir: Path = ROOT / ".chalice") -> Pool:
    """The deployed stage's pool and app client, from the values `make deploy` writes."""
    stages = json.loads((chalice_dir / "config.json").read_text())["stages"]
    if stage not in stages:
        raise AccountError(
            f"there is no stage {stage!r} in .chalice/config.json (stages: {', '.join(stages)})"
        )
    env = stages[stage].get("environment_variables", {})
    pool_id, client_id = env.get("COGNITO_USER_POOL_ID", ""), env.get("COGNITO_APP_CLIENT_ID", "")
    if "_" not in pool_id or "placeholder" in pool_id or client_id in ("", "replace-at-deploy"):
        raise AccountError(
            f"stage {stage!r} has no user pool yet: deploy it first with `make deploy STAGE={stage}`"
        )
    return Pool(stage, pool_id, client_id, pool_id.split("_", 1)[0])


def cognito_client(pool: Pool) -> Any:
    import boto3

    return boto3.client("cognito-idp", region_name=pool.region)  # type: ignore[no-untyped-call]


@contextlib.contextmanager
def explained(email: str) -> Iterator[None]:
    """Turn the SDK's errors into one line each."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", str(exc))
        if code in ("NotAuthorizedException", "UserNotFoundException"):
            raise AccountError(f"wrong email or password for {email} ({message})") from None
        if code == "UsernameExistsException":
            raise AccountError(f"{email} already exists in the pool") from None
        if code == "InvalidPasswordException":
            raise AccountError(f"the pool refuses that password: {message}") from None
        raise AccountError(f"{code}: {message}") from None
    except NoCredentialsError:
        raise AccountError("no AWS credentials found: set AWS_PROFILE or configure ~/.aws") from None
    except NoRegionError:  # pragma: no cover - the region comes from the pool id
        raise AccountError("no AWS region: set AWS_DEFAULT_REGION") from None
    except BotoCoreError as exc:
        raise AccountError(str(exc).splitlines()[0]) from None


def _ask_new_password(email: str, prompt: Prompt) -> str:
    first = prompt(f"{email} must choose a new password. New password: ")
    if prompt("Repeat the new password: ") != first:
        raise AccountError("the two new passwords differ; nothing was changed")
    return first


def sign_in(cognito: Any, pool: Pool, email: str, password: str, prompt: Prompt) -> str:
    """An ID token (USER_PASSWORD_AUTH), answering a new-password challenge by prompting."""
    with explained(email):
        result = cognito.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
        if result.get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
            result = cognito.respond_to_auth_challenge(
                ClientId=pool.client_id,
                ChallengeName="NEW_PASSWORD_REQUIRED",
                Session=result["Session"],
                ChallengeResponses={"USERNAME": email, "NEW_PASSWORD": _ask_new_password(email, prompt)},
            )
    if "AuthenticationResult" not in result:
        raise AccountError(
            f"Cognito asks {email} for {result.get('ChallengeName')}, which make token cannot answer"
        )
    return str(result["AuthenticationResult"]["IdToken"])


def deployed_token(cognito: Any, pool: Pool, user: str, prompt: Prompt) -> str:
    """`make token STAGE=dev USER=you@example.com`: the password is prompted without echo."""
    if "@" not in user:
        raise AccountError(f"on stage {pool.stage}, USER is the email you sign in with, not {user!r}")
    return sign_in(cognito, pool, user, prompt(f"Password for {user}: "), prompt)


def create_user(cognito: Any, pool: Pool, email: str, group: str | None, prompt: Prompt) -> str:
    """`make user`: the pool's invitation email, or (when one is typed) a permanent password."""
    if "@" not in email:
        raise AccountError(f"EMAIL must be an email address, not {email!r}")
    password = prompt(f"Password for {email} (leave empty to send the pool's invitation email instead): ")
    attributes = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
    with explained(email):
        if password:
            cognito.admin_create_user(
                UserPoolId=pool.pool_id, Username=email, UserAttributes=attributes, MessageAction="SUPPRESS"
            )
            try:
                cognito.admin_set_user_password(
                    UserPoolId=pool.pool_id, Username=email, Password=password, Permanent=True
                )
            except Exception:
                # A refused password would leave a user nobody can sign in as: take it back.
                cognito.admin_delete_user(UserPoolId=pool.pool_id, Username=email)
                raise
            how = "signs in with the password you typed"
        else:
            cognito.admin_create_user(
                UserPoolId=pool.pool_id,
                Username=email,
                UserAttributes=attributes,
                DesiredDeliveryMediums=["EMAIL"],
            )
            how = "was emailed a temporary password; `make token` asks for a new one on first use"
        if group:
            cognito.admin_add_user_to_group(UserPoolId=pool.pool_id, Username=email, GroupName=group)
    member = f", member of {group}" if group else ""
    return f"created {email} on stage {pool.stage}{member}: it {how}"


# --- the local stack: users made on first use, all with the local password -----------------------


def local_stack_info(state_path: Path) -> Any:
    """The running local stack's description (its state file), or the one line saying to start it."""
    from devstack.provision import StackInfo

    try:
        state = json.loads(state_path.read_text())
    except FileNotFoundError:
        raise AccountError("the local stack is not running: start it with `make run`") from None
    for key in ("api_url", "console_url"):
        state.pop(key, None)
    return StackInfo(**state)


@contextlib.contextmanager
def _local(endpoint: str, email: str) -> Iterator[None]:
    from botocore.exceptions import EndpointConnectionError

    with explained(email):
        try:
            yield
        except EndpointConnectionError:
            raise AccountError(
                f"the local stack at {endpoint} does not answer: start it with `make run`"
            ) from None


def local_user(info: Any, user: str, group: str | None) -> str:
    """Create the local user on first use (with the local password); its email."""
    from devstack.tokens import email_for, ensure_user

    with _local(info.endpoint, email_for(user)):
        return ensure_user(info, user, group)


def local_token(info: Any, user: str, group: str | None) -> str:
    """An ID token for a local user, created on first use with the local password."""
    from devstack.provision import client
    from devstack.tokens import LOCAL_PASSWORD

    email = local_user(info, user, group)
    unknown_password = (
        f"{email} was not created by make token and has a password it does not know: give it the "
        f"local password with AdminSetUserPassword (Password={LOCAL_PASSWORD}, Permanent=true), "
        "or sign in with its own password in the console"
    )
    cognito = client("cognito-idp", info.endpoint)
    with _local(info.endpoint, email):
        try:
            result = cognito.initiate_auth(
                ClientId=info.app_client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": email, "PASSWORD": LOCAL_PASSWORD},
            )
        except cognito.exceptions.NotAuthorizedException:
            raise AccountError(unknown_password) from None
    if "AuthenticationResult" not in result:  # e.g. NEW_PASSWORD_REQUIRED: a temporary password
        raise AccountError(unknown_password)
    return str(result["AuthenticationResult"]["IdToken"])
