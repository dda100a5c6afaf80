"""What a cold start loads: the timed paths (get, create, list, the stream and SNS handlers, the
webhook fan-out and deliverer) never import PynamoDB (bench/RESULTS.md: a tenth of a cold start)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from devstack import ROOT

# In a fresh interpreter: import app.py as Lambda does, invoke each path once on canned
# DynamoDB and SNS answers, and list the modules that were loaded.
SCRIPT = """
import json, sys
from bench import canned
import app
from chalicelib import wiring
canned.install()
canned.install_sns(wiring.sns_client())
context = canned.LambdaContext()
statuses = [
    app.app(canned.get_person_event(), context)["statusCode"],
    app.app(canned.create_person_event(), context)["statusCode"],
    app.app(canned.list_people_event(), context)["statusCode"],
]
batch = app.publish_changes(canned.stream_event(), context)
app.record_notification(canned.sns_event(), context)
print(json.dumps({"statuses": statuses, "batch": batch, "modules": sorted(sys.modules)}))
"""


def test_the_timed_paths_load_no_pynamodb() -> None:
    from bench import canned

    # What the function sees and nothing else: not the settings another test left in os.environ.
    base = {k: os.environ[k] for k in ("PATH", "HOME", "SYSTEMROOT") if k in os.environ}
    env = {**base, **canned.lambda_environment(), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.splitlines()[-1])
    assert seen["statuses"] == [200, 201, 200] and seen["batch"] == {"batchItemFailures": []}
    loaded = set(seen["modules"])
    assert not {name for name in loaded if name.split(".")[0] == "pynamodb"}


# The benchmark's own cold start of a webhook handler (bench/cold_child.py: canned DynamoDB, SQS
# and KMS answers, and for the deliverer a receiver on loopback), then the modules it loaded.
WEBHOOK_SCRIPT = """
import json, sys
from bench import cold_child
cold_child.main(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("target", ["webhook_fan_out", "webhook_deliver"])
def test_the_webhook_handlers_load_no_pynamodb(target: str) -> None:
    from bench import canned

    base = {k: os.environ[k] for k in ("PATH", "HOME", "SYSTEMROOT") if k in os.environ}
    env = {**base, **canned.lambda_environment(), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", WEBHOOK_SCRIPT, target],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    *_, measured, modules = result.stdout.splitlines()
    assert json.loads(measured)["status"] == 200, result.stderr  # it did the whole work
    assert not {name for name in json.loads(modules) if name.split(".")[0] == "pynamodb"}
