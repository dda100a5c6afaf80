"""Steps of the deploy script against the emulator: stack, config, key, gateway.

tests/deploy runs the whole `make deploy` / `make destroy` for real.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack import ROOT
from devstack.provision import StackInfo
from infra import deploy

# Moto's CloudFormation cannot create these; the test deploys everything else.
UNSUPPORTED_BY_EMULATOR = {
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolGroup",
    "AWS::Cognito::UserPoolClient",
    "AWS::SQS::QueuePolicy",
}


def emulator_template() -> str:
    """infra/template.yaml minus the resource types moto's CloudFormation lacks."""
    from cfnlint.decode import decode_str

    template, errors = decode_str((ROOT / "infra" / "template.yaml").read_text())
    assert not errors
    dropped = {k for k, v in template["Resources"].items() if v["Type"] in UNSUPPORTED_BY_EMULATOR}
    for name in dropped:
        del template["Resources"][name]
    for name, output in list(template["Outputs"].items()):
        if any(d in json.dumps(output) for d in dropped):
            del template["Outputs"][name]
    return json.dumps(template)


# Each test gets a region of its own in the session's emulator, so tests cannot see each
# other's stacks (and the in-process mock_aws, which would reset the shared emulator, is avoided).
_REGIONS = iter(
    ["us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1",
     "eu-north-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ca-central-1", "sa-east-1",
     "ap-south-1", "ap-northeast-2", "ap-northeast-3", "eu-south-1", "af-south-1"]
)  # fmt: skip


@pytest.fixture
def aws(stack: StackInfo) -> Iterator[Any]:
    """A boto3 session on the emulator (AWS_ENDPOINT_URL is set by the stack fixture)."""
    import boto3

    yield boto3.session.Session(
        region_name=next(_REGIONS),
        aws_access_key_id="local",
        aws_secret_access_key="local",
        aws_session_token="local",
    )


def test_stack_is_created_then_left_alone_when_unchanged(aws: Any) -> None:
    cfn = aws.client("cloudformation")
    first = deploy.ensure_stack(cfn, "dev", emulator_template())
    again = deploy.ensure_stack(cfn, "dev", emulator_template())
    assert first == again
    assert first["TableName"] == "people-api-dev"
    assert first["TableStreamArn"].startswith(first["TableArn"] + "/stream/")
    table = aws.client("dynamodb").describe_table(TableName="people-api-dev")["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["DeletionProtectionEnabled"] is False


def test_prod_table_is_protected_from_deletion(aws: Any) -> None:
    deploy.ensure_stack(aws.client("cloudformation"), "prod", emulator_template())
    table = aws.client("dynamodb").describe_table(TableName="people-api-prod")["Table"]
    assert table["DeletionProtectionEnabled"] is True


def test_cursor_key_is_generated_once_and_kept_secret(aws: Any) -> None:
    ssm = aws.client("ssm")
    key = deploy.ensure_cursor_secret(ssm, "dev")
    assert deploy.ensure_cursor_secret(ssm, "dev") == key
    assert len(key) >= 40 and key != deploy.ensure_cursor_secret(ssm, "prod")
    stored = ssm.describe_parameters()["Parameters"]
    assert {p["Type"] for p in stored} == {"SecureString"}


def test_outputs_land_in_only_that_stages_environment(aws: Any, tmp_path: Path) -> None:
    outputs = deploy.ensure_stack(aws.client("cloudformation"), "dev", emulator_template())
    outputs |= {"UserPoolId": "us-east-1_abc", "UserPoolArn": "arn:pool", "AppClientId": "client"}
    config = tmp_path / "config.json"
    shutil.copy(ROOT / ".chalice" / "config.json", config)
    before = json.loads(config.read_text())
    before["stages"]["dev"]["environment_variables"]["CURSOR_SECRET"] = "written-by-an-older-deploy"
    config.write_text(json.dumps(before))
    deploy.write_stage_config(config, "dev", deploy.stage_env_from(outputs, "dev"))
    after = json.loads(config.read_text())
    env = after["stages"]["dev"]["environment_variables"]
    assert env["TABLE_STREAM_ARN"] == outputs["TableStreamArn"]
    assert env["CHANGES_TOPIC_ARN"] == outputs["ChangesTopicArn"]
    assert env["COGNITO_USER_POOL_ARN"] == "arn:pool"
    assert env["CURSOR_SECRET_PARAMETER"] == "/people-api/dev/cursor-secret" and "CURSOR_SECRET" not in env
    assert env["STAGE"] == "dev" and env["AUTH_MODE"] == "cognito"
    functions = after["stages"]["dev"]["lambda_functions"]
    assert {h: f["iam_policy_file"] for h, f in functions.items()} == {
        h: f"policy-dev-{h}.json" for h in deploy.HANDLERS
    }
    assert after["stages"]["prod"] == before["stages"]["prod"]
    assert after["stages"]["local"] == before["stages"]["local"]


def test_missing_outputs_are_reported_not_written() -> None:
    with pytest.raises(deploy.DeployError, match="UserPoolArn"):
        deploy.stage_env_from({"TableName": "t"}, "dev")


def test_gateway_responses_are_problem_json_with_cors(aws: Any) -> None:
    apigw = aws.client("apigateway")
    api = apigw.create_rest_api(name="people-api")["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    responses = ROOT / "infra" / "gateway-responses.json"
    console = frozenset({"https://console.example.com"})
    deploy.put_gateway_responses(apigw, api, "api", responses, console)
    deploy.put_gateway_responses(apigw, api, "api", responses, console)  # re-running converges
    table = json.loads((ROOT / "infra" / "gateway-responses.json").read_text())
    installed = {r["responseType"]: r for r in apigw.get_gateway_responses(restApiId=api)["items"]}
    for response_type, spec in table.items():
        if response_type.startswith("_"):
            continue
        response = installed[response_type]
        params = response["responseParameters"]
        assert params["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
        assert params["gatewayresponse.header.Access-Control-Allow-Origin"] == "'https://console.example.com'"
        assert params["gatewayresponse.header.Vary"] == "'Origin'"
        allowed = params["gatewayresponse.header.Access-Control-Allow-Headers"]
        assert "If-Match" in allowed and "Idempotency-Key" in allowed
        body = json.loads(response["responseTemplates"]["application/json"])
        assert body["type"] == spec["type"] and body["title"] == spec["title"]
        assert body["request_id"] == "$context.requestId"
        if spec["status"] is not None:
            assert response["statusCode"] == str(spec["status"]) == str(body["status"])
    assert "gatewayresponse.header.WWW-Authenticate" in installed["UNAUTHORIZED"]["responseParameters"]


def test_gateway_answers_grant_no_origin_when_the_stage_lists_none_and_refuse_several() -> None:
    table = json.loads((ROOT / "infra" / "gateway-responses.json").read_text())
    for args in deploy.gateway_responses(table, frozenset()):
        params = args["responseParameters"]
        assert "gatewayresponse.header.Access-Control-Allow-Origin" not in params
        assert params["gatewayresponse.header.Vary"] == "'Origin'"
    with pytest.raises(deploy.DeployError, match="only one"):
        deploy.gateway_responses(table, frozenset({"https://a.example", "https://b.example"}))


def test_only_prod_asks_before_destroying() -> None:
    assert deploy.confirm_destroy("dev", answer=lambda _: pytest.fail("dev must not ask"))
    assert deploy.confirm_destroy("prod", answer=lambda _: "prod")
    assert not deploy.confirm_destroy("prod", answer=lambda _: "y")


@pytest.mark.parametrize("version", [(3, 11, 7), (3, 10, 0)])
def test_deploying_to_aws_from_an_old_python_is_refused(version: tuple[int, ...]) -> None:
    with pytest.raises(deploy.DeployError, match="Amazon Linux 2"):
        deploy.check_runtime(version, None)
    with pytest.raises(deploy.DeployError, match=r"Python 3\.1"):
        deploy.check_runtime(version, "https://example.com")


def test_new_pythons_deploy_anywhere_and_old_ones_to_the_emulator() -> None:
    deploy.check_runtime((3, 12, 0), None)
    deploy.check_runtime((3, 13, 0), None)
    deploy.check_runtime((3, 11, 7), "http://127.0.0.1:4566")


def test_make_deploy_refuses_an_old_python_before_touching_aws(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        "import sys; from infra import deploy; sys.version_info = (3, 11, 0, 'final', 0); "
        "sys.exit(deploy.main(['deploy', '--stage', 'dev', '--project-dir', sys.argv[1]]))"
    )
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "x", "AWS_ENDPOINT_URL": "http://192.0.2.1:9"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert "Amazon Linux 2" in result.stderr and "Python 3.13" in result.stderr
