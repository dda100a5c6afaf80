"""The README's curl walkthrough, pasted as written into bash, does what each comment says.

The walkthrough's shell block is taken from README.md as it is and run, one bash process for
the whole block as a person pasting it would, against a local stack started for this test
(`make run` on free ports). The text reads `PEOPLE_API_PORT` and `make token` reads
`DEVSTACK_STATE`, so the test points both at its own stack without editing a word.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devstack import ROOT
from devstack.background import BackgroundStack, start, stop

pytestmark = pytest.mark.e2e

MARK = "@@walkthrough-step"


@dataclass
class Step:
    command: str
    comment: str
    output: str = ""
    status: int = -1


def walkthrough_steps(readme: str) -> list[Step]:
    """The commands of the walkthrough's shell blocks (all but `make run`), each with its comment."""
    section = readme.split("## Walkthrough with curl", 1)[1].split("\n## ", 1)[0]
    blocks = [b for b in re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL) if b.strip() != "make run"]
    assert blocks, "the README has no walkthrough block"
    steps: list[Step] = []
    lines: list[str] = []
    for line in "".join(blocks).splitlines():
        if not lines and (not line.strip() or line.lstrip().startswith("#")):
            continue  # blank lines and comment lines between commands
        lines.append(line)
        if line.rstrip().endswith("\\"):
            continue  # the command goes on
        command, _, comment = "\n".join(lines).partition("  # ")
        steps.append(Step(command.rstrip(), comment.strip()))
        lines = []
    return steps


def _script(steps: list[Step]) -> str:
    parts = []
    for i, step in enumerate(steps):
        parts.append(f"printf '\\n{MARK} {i}\\n'\n{step.command}\nprintf '\\n{MARK} {i} exit %d\\n' $?\n")
    parts.append(f'printf \'\\n{MARK} vars\\n%s\\n%s\\n%s\\n\' "$TOKEN" "$ID" "$OWNER"\n')
    return "".join(parts)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundStack]:
    """A stack of its own: the walkthrough's alice must have no people from other tests."""
    started = start(tmp_path_factory.mktemp("walkthrough"))
    try:
        yield started
    finally:
        stop(started)


def _terminal_environment(stack: BackgroundStack) -> dict[str, str]:
    """A person's terminal beside `make run`: not inside make (a nested make would say so on stdout)."""
    make = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
    env = {k: v for k, v in stack.env.items() if k not in make}
    env["PEOPLE_API_PORT"] = stack.api_url.rsplit(":", 1)[1]
    env["PATH"] = os.environ["PATH"]
    return env


@pytest.fixture(scope="module")
def ran(stack: BackgroundStack) -> tuple[list[Step], list[str]]:
    steps = walkthrough_steps((ROOT / "README.md").read_text())
    result = subprocess.run(
        ["bash", "-c", _script(steps)],
        cwd=ROOT,
        env=_terminal_environment(stack),
        capture_output=True,
        text=True,
        timeout=300,
    )
    chunks = result.stdout.split(f"\n{MARK} ")
    for chunk in chunks[1:]:
        head, _, rest = chunk.partition("\n")
        if head.endswith(" exit 0") or " exit " in head:
            index, _, code = head.partition(" exit ")
            steps[int(index)].status = int(code)
        elif head.isdigit():
            steps[int(head)].output = rest
    variables = chunks[-1].partition("\n")[2].splitlines()
    assert all(step.status == 0 for step in steps), (result.stdout[-5000:], result.stderr[-5000:])
    return steps, variables


def _status_and_headers(output: str) -> tuple[int, dict[str, str], str]:
    """curl -i output: the status, the headers (lower-cased names) and the body."""
    head, _, body = output.replace("\r\n", "\n").strip("\n").partition("\n\n")
    lines = head.splitlines()
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


def _claims(token: str) -> dict[str, Any]:
    import jwt

    return dict(jwt.decode(token, options={"verify_signature": False}))


def test_every_command_of_the_walkthrough_does_what_its_comment_says(
    ran: tuple[list[Step], list[str]], stack: BackgroundStack
) -> None:
    steps, (token, person_id, owner) = ran
    assert _claims(token)["email"] == "alice@example.com" and _claims(token)["token_use"] == "id"
    assert owner == _claims(token)["sub"]
    checked: set[int] = set()

    def check(i: int, step: Step) -> None:
        comment, output = step.comment, step.output
        if match := re.match(r"(\d{3})\b", comment):  # `curl -i`: the status, headers and body said
            status, headers, body = _status_and_headers(output)
            assert status == int(match.group(1)), (step.command, output)
            if etag := re.search(r'ETag: ("\d+")', comment):
                assert headers["etag"] == etag.group(1), (step.command, output)
            if "omitted fields are cleared" in comment:
                person = json.loads(body)
                assert (person["name"], person["phone"], person["tags"]) == ("Ada King", None, [])
            if "{}" in comment:
                assert json.loads(body) == {}
            if "problem+json" in comment:
                assert headers["content-type"] == "application/problem+json"
                assert json.loads(body)["type"] == "urn:people-api:problem:not-found"
            if status == 412:
                assert json.loads(body)["type"] == "urn:people-api:problem:precondition-failed"
            checked.add(i)
        for needle, expect in BODY_CHECKS.items():
            if needle in comment:
                expect(json.loads(output), person_id, owner)
                checked.add(i)

    for i, step in enumerate(steps):
        check(i, step)
    for i, step in enumerate(steps):
        if step.command.startswith(("TOKEN=", "ROOT=", "ID=", "OWNER=", "API=", "field()")):
            checked.add(i)  # assignments: checked through their values (above and in every request)
    unchecked = [steps[i].command for i in range(len(steps)) if steps[i].comment and i not in checked]
    assert unchecked == [], "walkthrough comments this test does not check"


def _the_new_person(body: Any, person_id: str, owner: str) -> None:
    assert body["id"] == person_id and body["owner"] == owner and body["version"] == 1
    assert (body["name"], body["email"], body["tags"]) == ("Ada Lovelace", "ada@example.com", ["math"])


def _alices_people(body: Any, person_id: str, owner: str) -> None:
    assert [(p["id"], p["name"]) for p in body] == [(person_id, "Ada Lovelace")]


def _newest_change_first(body: Any, person_id: str, owner: str) -> None:
    assert [(e["type"], e["after"]["version"]) for e in body] == [
        ("people.person.updated", 3),
        ("people.person.updated", 2),
        ("people.person.created", 1),
    ]


def _as_an_admin_sees_them(body: Any, person_id: str, owner: str) -> None:
    assert [(p["id"], p["name"], p["owner"]) for p in body] == [(person_id, "Ada King", owner)]


BODY_CHECKS: dict[str, Callable[[Any, str, str], None]] = {
    "the new person": _the_new_person,
    "your people, oldest first": _alices_people,
    "newest change first": _newest_change_first,
    "as an admin sees them": _as_an_admin_sees_them,
}


def test_the_walkthrough_reads_the_stack_it_is_pointed_at_without_edits() -> None:
    text = "\n".join(step.command for step in walkthrough_steps((ROOT / "README.md").read_text()))
    assert "<" not in text.replace("<<", ""), "a placeholder to fill in by hand"
    assert "${PEOPLE_API_PORT:-8000}" in text and "make token USER=alice" in text
