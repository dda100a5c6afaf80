"""The local stack: AWS emulator, provisioning, chalice local, tokens. Never shipped to Lambda."""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
# Local-only credentials: the emulator accepts anything, and real AWS would reject these.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


def stage_environment(stage: str = "local") -> dict[str, str]:
    """The stage's environment variables from .chalice/config.json (the one source)."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return dict(config["stages"][stage].get("environment_variables", {}))


def aws_environment(endpoint: str) -> dict[str, str]:
    """Environment for any AWS SDK client that must talk to the emulator and nothing else."""
    return {
        **FAKE_CREDENTIALS,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def state_path() -> Path:
    """Where the running local stack describes itself (DEVSTACK_STATE, default .devstack/state.json)."""
    return Path(os.environ.get("DEVSTACK_STATE") or ROOT / ".devstack" / "state.json")
