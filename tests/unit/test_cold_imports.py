"""What a cold start loads: the timed paths (get, create, list, the stream and SNS handlers) never
import PynamoDB (bench/RESULTS.md: a tenth of a cold start)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
