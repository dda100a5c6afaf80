"""The GitHub Actions workflow: actionlint-clean, tests before deploying, no stored AWS keys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from devstack import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = str(Path(sys.executable).with_name("actionlint"))


def actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    # -shellcheck= -pyflakes=: the checks must not depend on tools installed by hand.
    return subprocess.run(
        [ACTIONLINT, "-no-color", "-shellcheck=", "-pyflakes=", *map(str, paths)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_workflows_pass_actionlint() -> None:
    assert WORKFLOWS
    result = actionlint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_fails_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  t:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.evnt_name }}\n      - uses: actions/checkout@v4\n"
    )
    result = actionlint(broken)
    assert result.returncode != 0 and "evnt_name" in result.stdout


def workflow() -> dict[str, Any]:
    (path,) = WORKFLOWS
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def test_main_deploys_dev_after_the_tests_with_an_assumed_role_and_no_keys() -> None:
    jobs = workflow()["jobs"]
    runs = {name: [step.get("run", "") for step in job["steps"]] for name, job in jobs.items()}
    assert "make test" in runs["test"]
    assert jobs["test"]["timeout-minutes"] <= 15
    deploy = jobs["deploy-dev"]
    assert deploy["needs"] == "test"
    assert "refs/heads/main" in deploy["if"] and "push" in deploy["if"]
    assert "make deploy STAGE=dev" in runs["deploy-dev"]
    assert deploy["permissions"] == {"contents": "read", "id-token": "write"}
    assert workflow()["permissions"] == {"contents": "read"}  # only the deploy job may get a token
    (credentials,) = [s for s in deploy["steps"] if str(s.get("uses", "")).startswith("aws-actions/")]
    assert set(credentials["with"]) == {"role-to-assume", "aws-region"}
    text = WORKFLOWS[0].read_text()
    assert "secrets." not in text and "AWS_ACCESS_KEY_ID" not in text
