"""No regular expression the API uses or publishes can backtrack catastrophically (ReDoS).

Every pattern is run through a ReDoS analyser (redoctor, an automaton-based checker): the
compiled regular expressions of every shipped module, and every `pattern` the OpenAPI document
publishes (clients and validating proxies run those too). A new vulnerable pattern fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import redoctor
from redoctor import Config

# The If-Match pattern before it was rewritten: 57 bytes of `", , , ..., x` took any request
# into the Lambda timeout. Kept to prove the analyser catches that class of hole.
VULNERABLE_IF_MATCH = (
    r'^[ \t]*(?:\*|(?:(?:W/)?"[\x21\x23-\x7e\x80-\xff]*")?'
    r'(?:[ \t]*,[ \t]*(?:(?:W/)?"[\x21\x23-\x7e\x80-\xff]*")?)*)[ \t]*$'
)


PATTERNS_SCRIPT = """
import importlib, json, pkgutil, re
import chalicelib
from chalicelib.web import openapi

def published(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from published(value)
    elif isinstance(node, list):
        for item in node:
            yield from published(item)

patterns = {}
for info in pkgutil.walk_packages(chalicelib.__path__, "chalicelib."):
    for name, value in vars(importlib.import_module(info.name)).items():
        if isinstance(value, re.Pattern):
            patterns[info.name + "." + name] = value.pattern
for i, pattern in enumerate(sorted(set(published(openapi.document())))):
    patterns["openapi pattern %d: %s" % (i, pattern[:40])] = pattern
print(json.dumps(patterns))
"""


def every_pattern() -> dict[str, str]:
    """Where each pattern lives -> the pattern, from a fresh interpreter.

    Importing every module (the routes among them, which choose the authorizer at import)
    happens in a child process, so this test's imports cannot leak into the other tests.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "AWS_", "COGNITO_"))}
    result = subprocess.run(
        [sys.executable, "-c", PATTERNS_SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    patterns: dict[str, str] = json.loads(result.stdout)
    return patterns


def verdict(pattern: str) -> Any:
    return redoctor.check(pattern, config=Config(random_seed=1, timeout=20))


def test_the_analyser_catches_the_if_match_pattern_that_took_the_api_down() -> None:
    diagnostics = verdict(VULNERABLE_IF_MATCH)
    assert diagnostics.status == redoctor.Status.VULNERABLE, diagnostics


def test_no_pattern_in_the_code_or_the_contract_can_backtrack_catastrophically() -> None:
    from chalicelib.web.headers import IF_MATCH_PATTERN

    where = every_pattern()
    assert any(w.startswith("openapi pattern") for w in where)
    assert any(w.startswith("chalicelib.domain.") for w in where)
    assert IF_MATCH_PATTERN in where.values()
    verdicts = {w: verdict(p) for w, p in where.items()}
    unsafe = {w: str(d) for w, d in verdicts.items() if d.status != redoctor.Status.SAFE}
    assert unsafe == {}
