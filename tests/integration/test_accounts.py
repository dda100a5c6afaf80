"""Users and tokens for people on a deployed stage, played against the emulated pool."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devstack.accounts import AccountError, Pool, create_user, deployed_token, stage_pool
from devstack.provision import StackInfo, client

PASSWORD = "Typed-Passw0rd-123"


@pytest.fixture
def pool(stack: StackInfo) -> Pool:
    return Pool("dev", stack.user_pool_id, stack.app_client_id, stack.region)


@pytest.fixture
def cognito(stack: StackInfo) -> Any:
    return client("cognito-idp", stack.endpoint)


@pytest.fixture
def email() -> str:
    return f"person-{uuid.uuid4().hex[:8]}@example.com"


def answers(*typed: str) -> Callable[[str], str]:
    """A password prompt that types `typed`, in order, and records nothing else."""
    queue = list(typed)
    return lambda prompt: queue.pop(0)


def test_a_user_created_with_a_typed_password_gets_a_token(cognito: Any, pool: Pool, email: str) -> None:
    said = create_user(cognito, pool, email, "admins", answers(PASSWORD))
    assert said.startswith(f"created {email} on stage dev, member of admins")
    token = deployed_token(cognito, pool, email, answers(PASSWORD))
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert payload["email"] == email and payload["cognito:groups"] == ["admins"]


def test_a_user_with_a_temporary_password_chooses_a_new_one_at_the_first_token(
    cognito: Any, pool: Pool, email: str
) -> None:
    cognito.admin_create_user(UserPoolId=pool.pool_id, Username=email, TemporaryPassword="Temp-Passw0rd-99")
    token = deployed_token(cognito, pool, email, answers("Temp-Passw0rd-99", PASSWORD, PASSWORD))
    assert token.count(".") == 2
    assert deployed_token(cognito, pool, email, answers(PASSWORD)).count(".") == 2


def test_two_different_new_passwords_change_nothing(cognito: Any, pool: Pool, email: str) -> None:
    cognito.admin_create_user(UserPoolId=pool.pool_id, Username=email, TemporaryPassword="Temp-Passw0rd-99")
    with pytest.raises(AccountError, match="differ"):
        deployed_token(cognito, pool, email, answers("Temp-Passw0rd-99", PASSWORD, PASSWORD + "x"))


def test_a_wrong_password_is_one_line(cognito: Any, pool: Pool, email: str) -> None:
    create_user(cognito, pool, email, None, answers(PASSWORD))
    with pytest.raises(AccountError, match=f"wrong email or password for {email}") as caught:
        deployed_token(cognito, pool, email, answers("Not-The-Passw0rd-1"))
    assert "\n" not in str(caught.value)


def test_a_bare_name_is_not_an_email_on_a_deployed_stage(cognito: Any, pool: Pool) -> None:
    with pytest.raises(AccountError, match="email you sign in with"):
        deployed_token(cognito, pool, "alice", answers(PASSWORD))


def test_an_existing_user_is_reported_not_created_twice(cognito: Any, pool: Pool, email: str) -> None:
    create_user(cognito, pool, email, None, answers(PASSWORD))
    with pytest.raises(AccountError, match="already exists"):
        create_user(cognito, pool, email, None, answers(PASSWORD))


def test_a_refused_password_leaves_no_user_behind(cognito: Any, pool: Pool, email: str) -> None:
    with pytest.raises(AccountError, match="refuses that password"):
        create_user(cognito, pool, email, None, answers("short"))
    with pytest.raises(cognito.exceptions.UserNotFoundException):
        cognito.admin_get_user(UserPoolId=pool.pool_id, Username=email)


def test_without_a_typed_password_the_pool_invites_the_user(cognito: Any, pool: Pool, email: str) -> None:
    said = create_user(cognito, pool, email, None, answers(""))
    assert "emailed a temporary password" in said
    user = cognito.admin_get_user(UserPoolId=pool.pool_id, Username=email)
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"


def _config(tmp_path: Path, env: dict[str, str]) -> Path:
    (tmp_path / "config.json").write_text(json.dumps({"stages": {"dev": {"environment_variables": env}}}))
    return tmp_path


def test_a_stage_not_yet_deployed_says_how_to_deploy(tmp_path: Path) -> None:
    placeholders = {
        "COGNITO_USER_POOL_ID": "us-east-1_devplaceholder",
        "COGNITO_APP_CLIENT_ID": "replace-at-deploy",
    }
    with pytest.raises(AccountError, match="make deploy STAGE=dev"):
        stage_pool("dev", _config(tmp_path, placeholders))
    with pytest.raises(AccountError, match="no stage 'qa'"):
        stage_pool("qa", _config(tmp_path, placeholders))


def test_a_deployed_stage_names_its_pool_client_and_region(tmp_path: Path) -> None:
    env = {"COGNITO_USER_POOL_ID": "eu-west-1_Abc", "COGNITO_APP_CLIENT_ID": "client1"}
    assert stage_pool("dev", _config(tmp_path, env)) == Pool("dev", "eu-west-1_Abc", "client1", "eu-west-1")
