"""Schemathesis fuzzes every operation of the served OpenAPI document against the local stack.

It runs as its own CLI (its settings and the reason for every exception are in
schemathesis.toml beside this file) with a real ID token, over the coverage, fuzzing and
stateful phases (the document's links chain create -> get -> patch -> put -> delete), and
every check enabled: no 5xx, no response that breaks its schema, status codes, headers and
content types as documented, valid data accepted, invalid data rejected, auth enforced.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from devstack.background import BackgroundStack
from devstack.tokens import id_token

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).with_name("schemathesis.toml")
MIN_CASES = 1000


def test_schemathesis_finds_nothing_wrong_in_at_least_1000_cases(
    local_stack: BackgroundStack, tmp_path: Path
) -> None:
    token = id_token(local_stack.info, f"fuzz-{uuid.uuid4().hex[:8]}")
    report = tmp_path / "schemathesis.json"
    command = [
        sys.executable,
        "-c",
        "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())",
        "--config-file",
        str(CONFIG),
        "run",
        f"{local_stack.api_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--workers",
        "1",
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-30000:] + result.stderr[-5000:]
    summary = json.loads(report.read_text())
    operations = summary["operations"]
    assert operations["tested"] == operations["total"] == 17, operations
    phases = summary["phases"]
    assert all(phases[phase]["status"] == "success" for phase in ("coverage", "fuzzing", "stateful")), phases
    assert summary["test_cases"]["generated"] >= MIN_CASES, summary["test_cases"]
    assert summary["failures"] == [] and summary["errors"] == []
    print(f"schemathesis: {summary['test_cases']} in {summary['running_time']:.0f}s")
