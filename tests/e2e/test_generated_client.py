"""A Python client generated from the served OpenAPI document works against the real local stack.

`openapi-python-client` (a generator this project did not write) must generate the client with
no warning at all, and every documented error response must come back as a typed model: a
404 or 412 is a `Problem`, a 422 a `ValidationProblem`, never `parsed=None`.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from devstack.background import BackgroundStack
from devstack.tokens import id_token

pytestmark = pytest.mark.e2e

PACKAGE = "people_api_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture(scope="module")
def generated(local_stack: BackgroundStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Generate the client from the running API's own document; the generator's output."""
    workdir = tmp_path_factory.mktemp("generated")
    with urllib.request.urlopen(f"{local_stack.api_url}/openapi.json", timeout=10) as response:
        (workdir / "openapi.json").write_bytes(response.read())
    # No formatting hooks: the client is generated to be used here, not read.
    (workdir / "config.json").write_text(json.dumps({"post_hooks": []}))
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(workdir / "openapi.json"),
            "--output-path",
            str(workdir / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(workdir / "config.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=workdir,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    sys.path.insert(0, str(workdir))
    try:
        yield output
    finally:
        sys.path.remove(str(workdir))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_the_client_is_generated_without_a_single_warning(generated: str) -> None:
    assert "warning" not in generated.lower(), generated
    # Every documented error of an operation has its model; none is dropped as unparseable.
    source = (Path(_module("api.default.get_person").__file__ or "")).read_text()
    for status in (401, 404, 500, 503):
        assert f"response.status_code == {status}" in source


def _next_cursor(link: str) -> str:
    """The cursor of an RFC 8288 `<...>; rel="next"` link."""
    target = link.split(";")[0].strip().strip("<>")
    return urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)["cursor"][0]


def test_a_round_trip_through_the_generated_client(generated: str, local_stack: BackgroundStack) -> None:
    client_module = importlib.import_module(PACKAGE)
    models = _module("models")
    create_person = _module("api.default.create_person")
    get_person = _module("api.default.get_person")
    list_people = _module("api.default.list_people")
    patch_person = _module("api.default.patch_person")
    person_history = _module("api.default.person_history")
    delete_person = _module("api.default.delete_person")

    token = id_token(local_stack.info, f"generated-{uuid.uuid4().hex[:8]}")
    client: Any = client_module.AuthenticatedClient(base_url=local_stack.api_url, token=token)

    key = f'"{uuid.uuid4()}"'  # the quoted sf-string form the README recommends
    body = models.PersonInput(name="Ada Lovelace", email="ada@example.com", tags=["math"])
    created = create_person.sync_detailed(client=client, body=body, idempotency_key=key)
    assert created.status_code == 201 and isinstance(created.parsed, models.Person)
    ada = created.parsed
    assert created.headers["Location"].endswith(f"/people/{ada.id}")
    replayed = create_person.sync_detailed(client=client, body=body, idempotency_key=key)
    assert replayed.status_code == 201 and replayed.parsed.id == ada.id
    assert replayed.headers["Idempotent-Replayed"] == "true"
    grace = create_person.sync(client=client, body=models.PersonInput(name="Grace Hopper"))
    assert isinstance(grace, models.Person)

    fetched = get_person.sync_detailed(client=client, person_id=ada.id)
    assert fetched.parsed == ada and fetched.headers["ETag"] == '"1"'

    first = list_people.sync_detailed(client=client, limit=1)
    assert [p.id for p in first.parsed] == [ada.id]
    second = list_people.sync_detailed(client=client, limit=1, cursor=_next_cursor(first.headers["Link"]))
    assert [p.id for p in second.parsed] == [grace.id] and "Link" not in second.headers

    patched = patch_person.sync_detailed(
        client=client, person_id=ada.id, body=models.PersonPatch(phone="+44 20 7946 0958"), if_match='"1"'
    )
    assert patched.status_code == 200 and patched.parsed.phone == "+44 20 7946 0958"
    assert patched.headers["ETag"] == '"2"'
    stale = patch_person.sync_detailed(
        client=client, person_id=ada.id, body=models.PersonPatch(notes="late"), if_match='"1"'
    )
    assert stale.status_code == 412 and isinstance(stale.parsed, models.Problem)
    assert stale.parsed.type_ == "urn:people-api:problem:precondition-failed" and stale.parsed.status == 412

    invalid = create_person.sync_detailed(client=client, body=models.PersonInput(name="", email="nope"))
    assert invalid.status_code == 422 and isinstance(invalid.parsed, models.ValidationProblem)
    assert {e.field for e in invalid.parsed.errors} == {"name", "email"}

    # History is written from the change stream, a moment after the write: wait for it.
    deadline = time.monotonic() + 30
    while len(history := person_history.sync(client=client, person_id=ada.id) or []) < 2:
        assert time.monotonic() < deadline, history
        time.sleep(0.1)
    assert [(h.type_, h.changed_fields) for h in history] == [
        ("people.person.updated", ["phone"]),
        ("people.person.created", ["name", "email", "tags"]),
    ]

    deleted = delete_person.sync_detailed(client=client, person_id=ada.id, if_match='"2"')
    assert deleted.status_code == 200
    gone = get_person.sync_detailed(client=client, person_id=ada.id)
    assert gone.status_code == 404 and isinstance(gone.parsed, models.Problem)
    assert gone.parsed.type_ == "urn:people-api:problem:not-found"
