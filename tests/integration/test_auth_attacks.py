"""The local stage's token verifier against every protected route: only the pool's own unexpired
ID tokens for this app client get in. Every rejected request is 401 problem+json and never
reaches a route (no route code runs, no DynamoDB request is made). The same attacks go over
HTTP to the running local stack in tests/e2e/test_local_stack.py."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.test import Client

from devstack.provision import StackInfo, client
from devstack.tokens import ensure_user, id_token
from tests.attacks import attack_headers, issuer
from tests.support import DynamoRequests, id_claims, sign

PERSON_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
BODY = json.dumps({"name": "Ada"}).encode()


@pytest.fixture(scope="module")
def api(chalice_app: Any) -> Iterator[Client]:
    with Client(chalice_app, stage_name="local") as c:
        yield c


@pytest.fixture(scope="module")
def protected_routes(chalice_app: Any) -> list[tuple[str, str]]:
    """(method, concrete path) of every route that has an authorizer."""
    routes = [
        (method, path.replace("{person_id}", PERSON_ID).replace("{webhook_id}", PERSON_ID))
        for path, entries in chalice_app.routes.items()
        for method, entry in entries.items()
        if entry.authorizer is not None
    ]
    assert len(routes) == 7 + 8  # people and history, webhooks
    return routes


@pytest.fixture
def reached(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every time route code runs or asks for a repository (and so for DynamoDB)."""
    from chalicelib.web import routes

    calls: list[str] = []
    real_request = routes._request

    def spy(name: str, real: Callable[[], Any]) -> Callable[[], Any]:
        def record() -> Any:
            calls.append(name)
            return real()

        return record

    monkeypatch.setattr(routes, "_request", spy("route", real_request))
    monkeypatch.setattr(routes, "people_repo", spy("people_repo", routes.people_repo))
    monkeypatch.setattr(routes, "history_repo", spy("history_repo", routes.history_repo))
    return calls


@pytest.fixture
def dynamodb_requests(stack: StackInfo) -> Iterator[list[str]]:
    """Every DynamoDB request the app's clients make while the test runs."""
    with DynamoRequests() as requests:
        yield requests.operations


@pytest.fixture(scope="module")
def attacks(stack: StackInfo) -> dict[str, str | None]:
    return attack_headers(stack)


def _call(api: Client, method: str, path: str, authorization: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    body = BODY if method in {"POST", "PUT", "PATCH"} else b""
    return api.http.request(method, path, headers=headers, body=body)


def test_every_attack_on_every_protected_route_is_401_problem_json_and_reaches_nothing(
    api: Client,
    protected_routes: list[tuple[str, str]],
    attacks: dict[str, str | None],
    reached: list[str],
    dynamodb_requests: list[str],
) -> None:
    for name, authorization in attacks.items():
        for method, path in protected_routes:
            response = _call(api, method, path, authorization)
            where = f"{name}: {method} {path}"
            assert response.status_code == 401, where
            if authorization is None:
                # Without any Authorization header the gateway itself answers (API Gateway; locally
                # devstack.chalice_local), which Chalice's test client does not emulate; the e2e
                # test checks that answer is problem+json too.
                continue
            assert response.headers["Content-Type"] == "application/problem+json", where
            problem = json.loads(response.body)
            assert problem["status"] == 401 and problem["type"].endswith("unauthenticated"), where
            assert "Traceback" not in response.body.decode(), where
    assert reached == []
    assert dynamodb_requests == []


def test_the_spies_do_see_a_request_that_gets_in(
    api: Client,
    stack: StackInfo,
    reached: list[str],
    dynamodb_requests: list[str],
) -> None:
    good = sign(id_claims(issuer(stack), stack.app_client_id))
    assert _call(api, "GET", "/people", f"Bearer {good}").status_code == 200
    assert "route" in reached and "people_repo" in reached
    assert dynamodb_requests == ["Query"]


def test_a_raw_token_without_bearer_is_accepted(api: Client, token_for: Callable[..., str]) -> None:
    assert _call(api, "GET", "/people", token_for(f"raw-{uuid.uuid4().hex[:8]}")).status_code == 200


def test_a_token_within_the_leeway_is_accepted(api: Client, stack: StackInfo) -> None:
    now = int(time.time())
    late = sign({**id_claims(issuer(stack), stack.app_client_id), "iat": now - 3620, "exp": now - 10})
    early = sign({**id_claims(issuer(stack), stack.app_client_id), "iat": now + 10, "nbf": now + 10})
    assert _call(api, "GET", "/people", late).status_code == 200
    assert _call(api, "GET", "/people", early).status_code == 200


def test_a_token_stays_valid_until_it_expires_after_its_user_is_disabled(
    api: Client, stack: StackInfo
) -> None:
    user = f"leaver-{uuid.uuid4().hex[:8]}"
    token = id_token(stack, user)
    client("cognito-idp", stack.endpoint).admin_disable_user(
        UserPoolId=stack.user_pool_id, Username=ensure_user(stack, user)
    )
    # ID tokens are verified offline (signature, expiry): Cognito is not asked per request.
    assert _call(api, "GET", "/people", token).status_code == 200


def test_an_access_token_is_told_an_id_token_is_required(api: Client, attacks: dict[str, str | None]) -> None:
    for name in ("the pool's real access token", "forged access token"):
        response = _call(api, "GET", "/people", attacks[name])
        assert response.status_code == 401
        assert json.loads(response.body)["detail"] == "an ID token is required, not an access token", name
