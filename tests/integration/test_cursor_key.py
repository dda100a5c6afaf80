"""The cursor key lives only in SSM: read on first use of a cursor, never from a tracked file."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest
from chalice.test import Client

from chalicelib import config, wiring
from devstack.provision import StackInfo, client


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, stack: StackInfo) -> Iterator[pytest.MonkeyPatch]:
    """Settings and the cursor codec read anew under the test's environment, and again after it."""
    config.settings.cache_clear()
    wiring.cursors.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    config.settings.cache_clear()
    wiring.cursors.cache_clear()


def page_of_one(api: Client, token: str) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for name in ("Ada", "Bea"):
        assert api.http.post("/people", headers=headers, body=json.dumps({"name": name})).status_code == 201
    return api.http.get("/people?limit=1", headers=headers)


def test_the_key_is_read_from_ssm_once_on_the_first_cursor(
    fresh: pytest.MonkeyPatch, stack: StackInfo, chalice_app: Any, token_for: Callable[..., str]
) -> None:
    # The local stage names its parameter as deployed stages do; the stack put a random key there.
    name = "/people-api/local/cursor-secret"
    ssm = client("ssm", stack.endpoint)
    assert len(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]) >= 40
    fresh.setenv("CURSOR_SECRET", "set-by-make-deploy")
    reads: list[str] = []
    original = wiring._parameter

    def spy(parameter: str) -> str:
        reads.append(parameter)
        return original(parameter)

    fresh.setattr(wiring, "_parameter", spy)
    with Client(chalice_app, stage_name="local") as api:
        token = token_for("ssm-cursor-user")
        headers = {"Authorization": f"Bearer {token}"}
        assert api.http.get("/people", headers=headers).status_code == 200
        assert reads == []  # no cursor needed, no key read
        first = page_of_one(api, token)
        link = first.headers["Link"]
        second = api.http.get(link[1 : link.index(">")], headers=headers)
        assert second.status_code == 200
    assert reads == [name]
    assert wiring.cursors().decode("x", wiring.cursors().encode("x", "last")) == "last"
    assert reads == [name]


def test_a_stage_without_a_real_key_refuses_to_serve_cursors_with_a_500_and_a_log_line(
    fresh: pytest.MonkeyPatch,
    chalice_app: Any,
    token_for: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Chalice's test client exports the local stage's own key, so the settings stand for a
    # deployed stage whose configuration holds only the placeholder.
    deployed = msgspec.structs.replace(config.settings(), cursor_secret=None, cursor_secret_parameter=None)
    fresh.setattr(wiring, "settings", lambda: deployed)
    with Client(chalice_app, stage_name="local") as api, caplog.at_level(logging.ERROR, logger="people_api"):
        response = page_of_one(api, token_for("no-key-user"))
    assert response.status_code == 500
    assert json.loads(response.body)["request_id"]
    assert "no cursor key" in caplog.text and "CURSOR_SECRET_PARAMETER" in caplog.text


def test_placeholder_keys_are_no_keys() -> None:
    base = {"TABLE_NAME": "t"}
    for placeholder in ("set-by-make-deploy", "replace-at-deploy", ""):
        assert config.load_settings({**base, "CURSOR_SECRET": placeholder}).cursor_secret is None
    assert (
        config.load_settings({**base, "CURSOR_SECRET": "a-real-local-key"}).cursor_secret
        == b"a-real-local-key"
    )


def test_no_stage_keeps_a_cursor_key_in_a_tracked_file() -> None:
    """Every stage, the local one included, names an SSM parameter; the key itself is never here."""
    import json

    from devstack import ROOT

    stages = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]
    for stage, spec in stages.items():
        env = spec.get("environment_variables", {})
        assert "CURSOR_SECRET" not in env, stage
        assert env["CURSOR_SECRET_PARAMETER"] == f"/people-api/{stage}/cursor-secret"
