"""End to end: the local stack as `make run` starts it, over real HTTP with real pool tokens."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from devstack import ROOT, background
from devstack.background import BackgroundStack
from devstack.provision import client
from devstack.tokens import LOCAL_PASSWORD, id_token
from tests.attacks import attack_headers, issuer
from tests.e2e.http import Reply, request
from tests.support import id_claims, sign

pytestmark = pytest.mark.e2e


@pytest.fixture
def call(local_stack: BackgroundStack) -> Callable[..., Reply]:
    def do(method: str, path: str, **kwargs: object) -> Reply:
        return request(local_stack.api_url, method, path, **kwargs)  # type: ignore[arg-type]

    return do


@pytest.fixture
def token(local_stack: BackgroundStack) -> Callable[..., str]:
    tag = uuid.uuid4().hex[:8]

    def issue(user: str, group: str | None = None) -> str:
        return id_token(local_stack.info, f"{user}-{tag}", group)

    return issue


def assert_problem(reply: Reply, status: int) -> dict[str, object]:
    assert reply.status == status, reply.raw
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert problem["status"] == status and "Traceback" not in reply.raw.decode()
    return dict(problem)


def test_the_readme_walkthrough_works_over_http(
    call: Callable[..., Reply], token: Callable[..., str]
) -> None:
    alice = token("alice")
    created = call("POST", "/people", token=alice, body={"name": "Ada Lovelace", "email": "ada@example.com"})
    assert created.status == 201
    person = created.json()
    assert created.headers["location"] == f"/people/{person['id']}" and created.headers["etag"] == '"1"'
    assert [p["id"] for p in call("GET", "/people", token=alice).json()] == [person["id"]]
    got = call("GET", f"/people/{person['id']}", token=alice)
    assert got.status == 200 and got.json() == person
    put = call(
        "PUT", f"/people/{person['id']}", token=alice, body={"name": "Ada King"}, headers={"If-Match": '"1"'}
    )
    assert put.status == 200 and put.json()["email"] is None and put.headers["etag"] == '"2"'
    patched = call(
        "PATCH",
        f"/people/{person['id']}",
        token=alice,
        body={"tags": ["math"]},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.status == 200 and patched.json()["tags"] == ["math"] and patched.json()["version"] == 3
    stale = call("DELETE", f"/people/{person['id']}", token=alice, headers={"If-Match": '"2"'})
    assert_problem(stale, 412)
    deleted = call("DELETE", f"/people/{person['id']}", token=alice)
    assert deleted.status == 200 and deleted.json() == {}
    assert_problem(call("GET", f"/people/{person['id']}", token=alice), 404)


def test_pagination_walks_125_people_in_creation_order(
    call: Callable[..., Reply], token: Callable[..., str]
) -> None:
    alice = token("alice")
    ids = [
        call("POST", "/people", token=alice, body={"name": f"person {i}"}).json()["id"] for i in range(125)
    ]
    seen: list[str] = []
    path: str | None = "/people"
    pages = 0
    while path:
        reply = call("GET", path, token=alice)
        assert reply.status == 200
        page = reply.json()
        assert len(page) <= 50
        seen += [p["id"] for p in page]
        pages += 1
        link = reply.headers.get("link")
        path = link[1 : link.index(">")] if link else None
    assert seen == ids and pages == 3
    big = call("GET", "/people?limit=100", token=alice)
    assert len(big.json()) == 100 and "link" in big.headers


def test_users_are_isolated_and_admins_are_not(call: Callable[..., Reply], token: Callable[..., str]) -> None:
    alice, bob, root = token("alice"), token("bob"), token("root", "admins")
    person = call("POST", "/people", token=alice, body={"name": "Alice's friend"}).json()
    assert call("GET", "/people", token=bob).json() == []
    assert_problem(call("GET", f"/people/{person['id']}", token=bob), 404)
    assert_problem(call("PATCH", f"/people/{person['id']}", token=bob, body={"name": "x"}), 404)
    assert_problem(call("GET", f"/people?owner={person['owner']}", token=bob), 403)
    assert call("GET", f"/people/{person['id']}", token=root).status == 200
    listed = call("GET", f"/people?owner={person['owner']}", token=root).json()
    assert [p["id"] for p in listed] == [person["id"]]
    assert call("PATCH", f"/people/{person['id']}", token=root, body={"notes": "by admin"}).status == 200
    assert call("DELETE", f"/people/{person['id']}", token=root).status == 200
    assert_problem(call("GET", f"/people/{person['id']}", token=alice), 404)


def test_every_attack_on_every_protected_operation_is_401_problem_json(
    call: Callable[..., Reply], local_stack: BackgroundStack
) -> None:
    """The attack suite of tests/integration/test_auth_attacks.py, over HTTP, on every operation
    the served OpenAPI document marks as protected."""
    document = call("GET", "/openapi.json").json()
    operations = [
        (method.upper(), re.sub(r"\{[a-z_]+\}", "01ARZ3NDEKTSV4RRFFQ69G5FAV", path))
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("security", document["security"])
    ]
    assert len(operations) == 7 + 8  # people and history, webhooks
    for name, value in attack_headers(local_stack.info).items():
        headers = {} if value is None else {"Authorization": value}
        for method, path in operations:
            body = {"name": "Ada"} if method in {"POST", "PUT", "PATCH"} else None
            reply = call(method, path, headers=headers, body=body)
            assert_problem(reply, 401)
            assert reply.json()["type"].endswith("unauthenticated"), (name, method, path)
    info = local_stack.info
    good = id_claims(issuer(info), info.app_client_id)
    assert call("GET", "/people", headers={"Authorization": sign(good)}).status == 200


def test_unknown_routes_are_404_problem_json(call: Callable[..., Reply]) -> None:
    assert_problem(call("GET", "/nope"), 404)


def test_standard_cognito_clients_get_tokens_the_api_accepts(
    call: Callable[..., Reply], local_stack: BackgroundStack
) -> None:
    cognito = client("cognito-idp", local_stack.info.endpoint)
    pool = next(p for p in cognito.list_user_pools(MaxResults=10)["UserPools"] if p["Name"] == "people-local")
    app_client = cognito.list_user_pool_clients(UserPoolId=pool["Id"])["UserPoolClients"][0]
    email = f"carol-{uuid.uuid4().hex[:6]}@example.com"
    cognito.admin_create_user(UserPoolId=pool["Id"], Username=email, MessageAction="SUPPRESS")
    cognito.admin_set_user_password(
        UserPoolId=pool["Id"], Username=email, Password=LOCAL_PASSWORD, Permanent=True
    )
    cognito.admin_add_user_to_group(UserPoolId=pool["Id"], Username=email, GroupName="admins")
    tokens = cognito.initiate_auth(
        ClientId=app_client["ClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": LOCAL_PASSWORD},
    )["AuthenticationResult"]
    assert call("GET", "/people", token=tokens["IdToken"]).status == 200
    assert_problem(call("GET", "/people", token=tokens["AccessToken"]), 401)


def test_make_token_prints_exactly_one_line(local_stack: BackgroundStack) -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "token", "USER=dave", "GROUP=admins"],
        cwd=ROOT,
        env=local_stack.env,
        capture_output=True,
        timeout=120,
        check=True,
    )
    lines = result.stdout.decode().splitlines()
    assert len(lines) == 1 and lines[0].count(".") == 2
    claims = json.loads(__import__("base64").urlsafe_b64decode(lines[0].split(".")[1] + "=="))
    assert claims["email"] == "dave@example.com" and claims["cognito:groups"] == ["admins"]


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_ctrl_c_stops_everything_and_leaves_nothing_listening(tmp_path: Path) -> None:
    stack = background.start(tmp_path)
    api_port = int(stack.env["PEOPLE_API_PORT"])
    emulator_port = int(stack.env["PEOPLE_EMULATOR_PORT"])
    assert not _port_is_free(api_port) and not _port_is_free(emulator_port)
    assert background.stop(stack) == 0
    assert _port_is_free(api_port) and _port_is_free(emulator_port)
    assert not stack.state_path.exists()
    orphans = subprocess.run(["pgrep", "-s", str(stack.process.pid)], capture_output=True)
    assert orphans.stdout.strip() == b"", "processes of the stack survived Ctrl-C"
    assert sys.executable
