"""`make token` and `make user` as a person types them against the running local stack."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from devstack import ROOT
from devstack.background import BackgroundStack
from devstack.provision import client
from devstack.tokens import LOCAL_PASSWORD

pytestmark = pytest.mark.e2e


def make(stack: BackgroundStack, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env={**stack.env, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _our_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr without make's own closing `make[N]: *** ... Error N` line (nested under make test)."""
    return [line for line in result.stderr.splitlines() if not re.match(r"make(\[\d+\])?: \*\*\*", line)]


def _claims(token: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def _fails_with_one_line(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode != 0
    assert result.stdout == ""
    lines = _our_lines(result)
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_make_token_never_uses_the_shells_user(local_stack: BackgroundStack) -> None:
    result = make(local_stack, "token", USER="root", GROUP="admins")
    _fails_with_one_line(result, "usage: make token USER=")


def test_make_token_for_a_user_created_elsewhere_says_how_to_set_a_password(
    local_stack: BackgroundStack,
) -> None:
    cognito = client("cognito-idp", local_stack.info.endpoint)
    email = f"elsewhere-{uuid.uuid4().hex[:8]}@example.com"
    cognito.admin_create_user(
        UserPoolId=local_stack.info.user_pool_id, Username=email, TemporaryPassword="Temp-Passw0rd-99"
    )
    _fails_with_one_line(make(local_stack, "token", f"USER={email}"), "AdminSetUserPassword")
    cognito.admin_set_user_password(
        UserPoolId=local_stack.info.user_pool_id, Username=email, Password="Other-Passw0rd-1", Permanent=True
    )
    _fails_with_one_line(make(local_stack, "token", f"USER={email}"), "was not created by make token")


def test_make_token_without_the_stack_says_to_start_it(local_stack: BackgroundStack, tmp_path: Path) -> None:
    result = make(local_stack, "token", "USER=alice", DEVSTACK_STATE=str(tmp_path / "none.json"))
    _fails_with_one_line(result, "start it with `make run`")


def test_make_user_on_the_local_stack_prints_the_password_and_the_group_sticks(
    local_stack: BackgroundStack,
) -> None:
    email = f"eve-{uuid.uuid4().hex[:8]}@example.com"
    created = make(local_stack, "user", "STAGE=local", f"EMAIL={email}", "GROUP=admins")
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == f"{email} is ready on the local stack; its password is {LOCAL_PASSWORD}"
    token = make(local_stack, "token", f"USER={email}")
    assert token.returncode == 0, token.stderr
    assert _claims(token.stdout.strip())["cognito:groups"] == ["admins"]
