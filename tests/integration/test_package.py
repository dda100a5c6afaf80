"""What `chalice package` produces per stage: valid SAM, wired to that stage, small, runnable.

Packaging needs no AWS credentials, only a region, and pip reaching the package registry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from devstack import ROOT
from infra.deploy import OUTPUT_TO_ENV, placeholder_outputs, stage_env_from
from tests.support import RUNTIME_SDK_RANGE, assert_people_routes_use_pool, runtime_sdk

STAGES = ("dev", "prod")
MAX_PACKAGE_BYTES = 1_000_000
# What the Lambda Python runtime provides, so the package must not bring it.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six"}


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def package_env() -> dict[str, str]:
    """A clean environment: nothing of the test session's local stage leaks into packaging."""
    keep = ("PATH", "HOME", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CACHE_DIR", "SSL_CERT_FILE")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    return {**env, "AWS_DEFAULT_REGION": "us-east-1", "PIP_NO_DEPS": "1"}


def make_package(stage: str, target: Path) -> None:
    """What `make package STAGE=<stage>` runs (the same package `make deploy` builds)."""
    subprocess.run(
        [sys.executable, "-m", "infra.deploy", "package", "--stage", stage, "--project-dir", str(ROOT),
         "--out", str(target)],
        env=package_env(),
        cwd=ROOT,
        check=True,
        capture_output=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for stage in STAGES:
        target = tmp_path_factory.mktemp(f"package-{stage}") / "out"
        make_package(stage, target)
        out[stage] = target
    return out


def sam(packaged: dict[str, Path], stage: str) -> dict[str, Any]:
    template: dict[str, Any] = json.loads((packaged[stage] / "sam.json").read_text())
    return template


def imported(stage: str, output: str) -> dict[str, str]:
    """A value of the stage's stack, as the package takes it (infra/template.yaml's exports)."""
    return {"Fn::ImportValue": f"people-api-{stage}-{output}"}


def test_infra_template_passes_cfn_lint() -> None:
    result = subprocess.run(
        [_bin("cfn-lint"), str(ROOT / "infra" / "template.yaml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stage", STAGES)
def test_packaged_sam_template_passes_cfn_lint(packaged: dict[str, Path], stage: str) -> None:
    result = subprocess.run(
        [_bin("cfn-lint"), str(packaged[stage] / "sam.json")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stage", STAGES)
def test_package_is_small_and_leaves_the_sdk_to_the_runtime(packaged: dict[str, Path], stage: str) -> None:
    archive = packaged[stage] / "deployment.zip"
    names = zipfile.ZipFile(archive).namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert archive.stat().st_size <= MAX_PACKAGE_BYTES, f"{archive.stat().st_size} bytes"
    assert not top & {"botocore", "boto3", "s3transfer", "urllib3", "dateutil"}, sorted(top)
    assert {"app.py", "chalicelib", "pynamodb", "msgspec", "ulid"} <= top
    # Needed below Python 3.12 only; on the runtime, msgspec would import it on every cold start.
    assert ("typing_extensions.py" in top) is (sys.version_info < (3, 12)), sorted(top)
    # Compiled wheels are the ones of the runtime Chalice deploys on: the Python it runs under.
    abi = "cpython-{}{}-x86_64-linux-gnu".format(*sys.version_info[:2])
    assert any(n.startswith("msgspec/_core.") and abi in n for n in names), [n for n in names if "_core" in n]


def test_requirements_list_every_runtime_dependency_the_sdk_does_not_cover() -> None:
    """PIP_NO_DEPS packaging installs only what requirements.txt names, so it must be closed."""
    from importlib.metadata import requires

    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    lines = (ROOT / "requirements.txt").read_text().splitlines()
    listed = [Requirement(line) for line in lines if line.strip() and line[0] != "#"]
    # Built on the Python it deploys to: 3.13 (the functions' runtime), or 3.11 for `make package`
    # on an older machine; each must get its whole closure.
    for version in ("3.11", "3.13"):
        env = {
            **default_environment(),
            "python_version": version,
            "python_full_version": f"{version}.0",
            "extra": "",
        }
        pinned = {canonicalize_name(r.name) for r in listed if r.marker is None or r.marker.evaluate(env)}
        needed = set()
        for name in pinned:
            for raw in requires(name) or []:
                req = Requirement(raw)
                if req.marker is None or req.marker.evaluate(env):
                    needed.add(canonicalize_name(req.name))
        assert needed - pinned - {canonicalize_name(n) for n in RUNTIME_PROVIDED} == set(), version


def _swagger(template: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    return body


@pytest.mark.parametrize("stage", STAGES)
def test_people_routes_use_the_stages_user_pool_and_health_is_open(
    packaged: dict[str, Path], stage: str
) -> None:
    swagger = _swagger(sam(packaged, stage))
    assert_people_routes_use_pool(swagger, imported(stage, "UserPoolArn"))


@pytest.mark.parametrize("stage", STAGES)
def test_each_stages_package_imports_from_that_stages_stack_only(
    packaged: dict[str, Path], stage: str
) -> None:
    """Otherwise the wiring tests here could not tell one stage from the other."""
    text = json.dumps(sam(packaged, stage))
    assert f'"people-api-{stage}-UserPoolArn"' in text
    assert all(f"people-api-{other}" not in text for other in STAGES if other != stage)


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_gets_its_stages_environment(packaged: dict[str, Path], stage: str) -> None:
    """The stage's settings from config.json; what the stack gives, imported from the stack."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    expected = {
        **config["stages"][stage]["environment_variables"],
        **{variable: imported(stage, output) for output, variable in OUTPUT_TO_ENV.items()},
    }
    functions = _functions(sam(packaged, stage))
    assert functions
    for name, props in functions.items():
        variables = props["Environment"]["Variables"]
        assert variables == expected, name
        assert variables["STAGE"] == stage
        assert set(stage_env_from(placeholder_outputs(stage), stage)) <= set(variables)
        assert all(f"people-api-{other}" not in json.dumps(variables) for other in STAGES if other != stage)


@pytest.mark.parametrize("stage", STAGES)
def test_event_handlers_listen_to_the_stages_topic_and_stream(packaged: dict[str, Path], stage: str) -> None:
    """Holds for whichever SNS and stream handlers app.py registers (none is also checked)."""
    import app as app_module

    registered = {type(e).__name__ for e in app_module.app.event_sources}
    events = [
        event
        for props in _functions(sam(packaged, stage)).values()
        for event in (props.get("Events") or {}).values()
    ]
    # `make package` writes each SNS event out as a subscription (to carry its redrive policy).
    subscriptions = [
        r["Properties"]
        for r in sam(packaged, stage)["Resources"].values()
        if r["Type"] == "AWS::SNS::Subscription"
    ]
    sns = [e["Properties"]["Topic"] for e in events if e["Type"] == "SNS"] + [
        s["TopicArn"] for s in subscriptions
    ]
    streams = [e["Properties"]["Stream"] for e in events if e["Type"] == "DynamoDB"]
    assert len(sns) == sum(1 for e in app_module.app.event_sources if type(e).__name__ == "SNSEventConfig")
    assert len(streams) == sum(
        1 for e in app_module.app.event_sources if type(e).__name__ == "DynamoDBEventConfig"
    ), registered
    for topic in sns:
        assert topic == imported(stage, "ChangesTopicArn")
    for stream in streams:
        assert stream == imported(stage, "TableStreamArn")
    stream_sources = [e["Properties"] for e in events if e["Type"] == "DynamoDB"]
    for source in stream_sources:
        # Without it Lambda ignores the handler's batchItemFailures and drops failed records.
        assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert 0 < source["MaximumRetryAttempts"] <= 10 and source["DestinationConfig"]["OnFailure"]
    queue_sources = [e["Properties"] for e in events if e["Type"] == "SQS"]
    assert len(queue_sources) == sum(
        1 for e in app_module.app.event_sources if type(e).__name__ == "SQSEventConfig"
    )
    for source in queue_sources:
        # The webhook deliverer reports the messages that failed; the others are done.
        assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        # Chalice builds the queue's ARN from its name, here the stack's.
        arn, names = source["Queue"]["Fn::Sub"]
        assert arn == "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${WebhookDeliveryQueueName}"
        assert names == {"WebhookDeliveryQueueName": imported(stage, "WebhookDeliveryQueueName")}


@pytest.mark.parametrize("stage", STAGES)
def test_the_package_throttles_and_keeps_logs_as_the_stage_deploys(
    packaged: dict[str, Path], stage: str
) -> None:
    from infra import deploy

    resources = sam(packaged, stage)["Resources"]
    rate, burst = deploy.THROTTLING.get(stage, deploy.DEFAULT_THROTTLING)
    (settings,) = resources["RestAPI"]["Properties"]["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (rate, burst)
    days = {
        r["Properties"]["RetentionInDays"] for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"
    }
    assert days == {deploy.LOG_RETENTION_DAYS.get(stage, deploy.DEFAULT_LOG_RETENTION_DAYS)}
    assert (rate, days) == ((100.0, {90}) if stage == "prod" else (20.0, {14}))


PACKAGED_SMOKE = """
import json, sys
import app
handler = app.app

def call(method, path, body=None, path_params=None):
    event = {
        "resource": path if not path_params else "/people/{person_id}",
        "path": path, "httpMethod": method,
        "headers": {"content-type": "application/json", "host": "example.test"},
        "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": path_params, "stageVariables": None, "isBase64Encoded": False,
        "body": json.dumps(body) if body is not None else None,
        "requestContext": {"resourcePath": path if not path_params else "/people/{person_id}",
            "httpMethod": method, "path": "/api" + path, "stage": "api", "requestId": "smoke",
            "authorizer": {"claims": {"sub": "smoke-user", "cognito:groups": ""}}},
    }
    return handler(event, None)

created = call("POST", "/people", {"name": "Ada"})
person = json.loads(created["body"])
fetched = call("GET", "/people/" + person["id"], path_params={"person_id": person["id"]})
import botocore
print(json.dumps({
    "botocore": botocore.__version__,
    "statuses": [created["statusCode"], fetched["statusCode"]],
    "name": json.loads(fetched["body"])["name"],
    "paths": [m.__file__ for m in (app, botocore)],
}))
"""


@pytest.mark.parametrize("version", RUNTIME_SDK_RANGE)
def test_packaged_code_runs_on_the_runtimes_sdk(
    packaged: dict[str, Path], stack: Any, tmp_path: Path, version: str
) -> None:
    """The zip alone plus the runtime's SDK (no dev site-packages) serves a write and a read."""
    code = tmp_path / "code"
    zipfile.ZipFile(packaged["dev"] / "deployment.zip").extractall(code)
    sdk = runtime_sdk(version)
    env = {
        **package_env(),
        "PYTHONPATH": f"{code}{os.pathsep}{sdk}",
        **{k: v for k, v in stack.app_environment().items() if k.startswith("AWS_")},
        "TABLE_NAME": stack.table_name,
        "CURSOR_SECRET": "smoke",
        "AUTH_MODE": "cognito",
    }
    # -S: no site-packages, so only the package and the runtime's SDK are importable.
    result = subprocess.run(
        [sys.executable, "-S", "-c", PACKAGED_SMOKE], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["botocore"] == version
    assert report["statuses"] == [201, 200]
    assert report["name"] == "Ada"
    assert report["paths"][0].startswith(str(code)) and report["paths"][1].startswith(str(sdk))


IMPORT_EVERY_MODULE = """
import importlib, json, pkgutil
import chalicelib
names = [m.name for m in pkgutil.walk_packages(chalicelib.__path__, "chalicelib.")]
for name in names:
    importlib.import_module(name)
print(json.dumps(sorted(names)))
"""


def test_every_shipped_module_imports_with_only_the_runtime_requirements(
    packaged: dict[str, Path], tmp_path: Path
) -> None:
    """The zip (runtime requirements only) plus the runtime's SDK imports every chalicelib module."""
    code = tmp_path / "code"
    zipfile.ZipFile(packaged["dev"] / "deployment.zip").extractall(code)
    sdk = runtime_sdk(RUNTIME_SDK_RANGE[0])
    env = {**package_env(), "PYTHONPATH": f"{code}{os.pathsep}{sdk}", "TABLE_NAME": "t", "CURSOR_SECRET": "s"}
    result = subprocess.run(
        [sys.executable, "-S", "-c", IMPORT_EVERY_MODULE],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    imported = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"chalicelib.web.routes", "chalicelib.adapters.people", "chalicelib.notifications"} <= set(
        imported
    )


def test_shipped_code_never_imports_dev_only_packages() -> None:
    """Not even lazily: the local token verifier (PyJWT, chalice.local) lives in devstack/."""
    import ast

    dev_only = {"jwt", "chalice.local", "chalice.cli", "moto", "boto3", "devstack", "tests", "bench"}
    allowed = {("chalicelib/web/routes.py", "devstack")}  # the local stage's verifier, local stage only
    found = []
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                top = next((d for d in dev_only if name == d or name.startswith(d + ".")), None)
                relative = str(path.relative_to(ROOT))
                if top is not None and (relative, top) not in allowed:
                    found.append(f"{relative}: {name}")
    assert found == []
