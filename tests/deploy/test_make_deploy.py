"""`make deploy STAGE=dev`, for real, against an emulator: read every resource back.

The real `chalice deploy` and `chalice delete` run (no stub), from a copy of the project, on a
moto server this module starts. Each check below is a promise of the README's deploy section.
The tests run in file order: deploy (fixture), checks, the README's smoke test on the deployed
code, re-deploy, destroy.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from devstack import ROOT
from devstack.background import free_port
from infra import deploy, event_sources
from tests.deploy.harness import (
    GITHUB_REPOSITORY,
    INVOCATIONS,
    REGION,
    STAGE,
    DeployedApi,
    Deployment,
    LambdaProcess,
    authorizer_claims,
    deployed_function,
    invocations_recorded,
    packaged_resources,
    project_copy,
    pseudo_parameters,
    resolve,
    sign_in,
    user_pool,
)
from tests.support import RUNTIME_SDK_RANGE, assert_people_routes_use_pool, runtime_sdk

API_FUNCTION = f"people-api-{STAGE}"
STREAM_FUNCTION = f"people-api-{STAGE}-publish_changes"
SNS_FUNCTION = f"people-api-{STAGE}-record_notification"
FAN_OUT_FUNCTION = f"people-api-{STAGE}-fan_out_webhooks"
DELIVERY_FUNCTION = f"people-api-{STAGE}-deliver_webhooks"
FUNCTIONS = {
    "api_handler": API_FUNCTION,
    "publish_changes": STREAM_FUNCTION,
    "record_notification": SNS_FUNCTION,
    "fan_out_webhooks": FAN_OUT_FUNCTION,
    "deliver_webhooks": DELIVERY_FUNCTION,
}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The stage deployed once by `make deploy` from a copy of the project."""
    from devstack.emulator import IMPORTED_API_DOCUMENTS, start_emulator

    port = free_port()
    server = start_emulator(port)
    try:
        with invocations_recorded():
            endpoint = f"http://127.0.0.1:{port}"
            bare = Deployment(endpoint, project_copy(tmp_path_factory.mktemp("project")), "", "", "")
            pool_id, pool_arn, client_id = user_pool(bare.client("cognito-idp"))
            deployed = Deployment(endpoint, bare.project, pool_id, pool_arn, client_id)
            IMPORTED_API_DOCUMENTS.clear()
            printed = deployed.deploy().stdout
            yield replace(deployed, printed=printed)
    finally:
        server.stop()


def stage_config(deployment: Deployment) -> dict[str, Any]:
    config: dict[str, Any] = json.loads((deployment.project / ".chalice" / "config.json").read_text())
    return config


def outputs(deployment: Deployment) -> dict[str, str]:
    stack = deployment.client("cloudformation").describe_stacks(StackName=f"people-api-{STAGE}")["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def function(deployment: Deployment, name: str) -> dict[str, Any]:
    config: dict[str, Any] = deployment.client("lambda").get_function_configuration(FunctionName=name)
    return config


def rest_api_id(deployment: Deployment) -> str:
    apis = deployment.client("apigateway").get_rest_apis()["items"]
    assert [a["name"] for a in apis] == ["people-api"]
    return str(apis[0]["id"])


# --- functions -------------------------------------------------------------------------


def test_every_function_has_the_stages_runtime_memory_timeout_and_environment(deployment: Deployment) -> None:
    config = stage_config(deployment)
    stage = config["stages"][STAGE]
    env = stage["environment_variables"]
    out = outputs(deployment)
    assert env["TABLE_NAME"] == out["TableName"] == f"people-api-{STAGE}"
    assert env["TABLE_STREAM_ARN"] == out["TableStreamArn"]
    assert env["CHANGES_TOPIC_ARN"] == out["ChangesTopicArn"]
    assert env["COGNITO_USER_POOL_ARN"] == deployment.pool_arn
    assert env["COGNITO_APP_CLIENT_ID"] == deployment.app_client_id
    for handler, name in FUNCTIONS.items():
        fn = function(deployment, name)
        per_function = stage["lambda_functions"][handler]
        # Chalice deploys on the Python it runs under (3.13 where the Makefile finds it).
        assert fn["Runtime"] == "python{}.{}".format(*sys.version_info[:2]), name
        assert fn["MemorySize"] == per_function.get("lambda_memory_size", stage["lambda_memory_size"]), name
        assert fn["Timeout"] == per_function.get("lambda_timeout", stage["lambda_timeout"]), name
        assert fn["Environment"]["Variables"] == env, name
    # README: the API has 512 MB and a 15 s timeout (below API Gateway's 29 s).
    api = function(deployment, API_FUNCTION)
    assert (api["MemorySize"], api["Timeout"]) == (512, 15)


def test_each_function_runs_as_its_own_role_holding_its_own_policy(deployment: Deployment) -> None:
    iam = deployment.client("iam")
    out = outputs(deployment)
    expected = deploy.policy_documents(out, STAGE)
    roles = set()
    for handler, name in FUNCTIONS.items():
        written = json.loads(
            (deployment.project / ".chalice" / deploy.policy_file(STAGE, handler)).read_text()
        )
        assert written == expected[handler]
        role_name = function(deployment, name)["Role"].rsplit("/", 1)[-1]
        roles.add(role_name)
        inline = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        assert len(inline) == 1, (name, inline)
        document = iam.get_role_policy(RoleName=role_name, PolicyName=inline[0])["PolicyDocument"]
        assert (json.loads(document) if isinstance(document, str) else document) == expected[handler], name
        assert iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []
    assert len(roles) == len(FUNCTIONS)
    granted = {h: json.dumps(d) for h, d in expected.items()}
    assert out["ChangesTopicArn"] in granted["publish_changes"]
    assert out["ChangesTopicArn"] not in granted["api_handler"] + granted["record_notification"]
    assert "ssm:GetParameter" in granted["api_handler"]
    assert "ssm:" not in granted["publish_changes"] + granted["record_notification"]
    assert "dynamodb:UpdateItem" not in granted["record_notification"]


def topic_publishers(deployment: Deployment) -> list[str]:
    """The ARN patterns the template's topic policy lets publish, resolved for the stage.

    moto's CloudFormation skips AWS::SNS::TopicPolicy, so the statement is read from the template.
    """
    from cfnlint.decode import decode_str

    template, errors = decode_str((deployment.project / "infra" / "template.yaml").read_text())
    assert not errors
    (statement,) = template["Resources"]["ChangesTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == ("Deny", "*", "sns:Publish")
    account = function(deployment, API_FUNCTION)["FunctionArn"].split(":")[4]
    values = {"${AWS::Partition}": "aws", "${AWS::AccountId}": account, "${Stage}": STAGE}
    patterns = []
    for pattern in statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"]:
        text = pattern["Fn::Sub"]
        for name, value in values.items():
            text = text.replace(name, value)
        patterns.append(text)
    return patterns


def test_only_the_stream_handlers_role_may_publish_changes(deployment: Deployment) -> None:

    allowed = topic_publishers(deployment)
    for handler, name in FUNCTIONS.items():
        role = function(deployment, name)["Role"]
        may_publish = any(fnmatchcase(role, pattern) for pattern in allowed)
        assert may_publish == (handler == "publish_changes"), (name, role)


# --- event sources ---------------------------------------------------------------------


def test_stream_mapping_has_bounded_retries_partial_batches_and_a_failure_queue(
    deployment: Deployment, chalice_app: Any
) -> None:
    # chalice_app, not `import app`: app.py chooses its authorizer at import, so it must be
    # imported only once the session's environment is set.

    every = deployment.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert sorted(m["FunctionArn"] for m in every) == sorted(
        function(deployment, name)["FunctionArn"] for name in (STREAM_FUNCTION, DELIVERY_FUNCTION)
    )
    (mapping,) = [
        m for m in every if m["FunctionArn"] == function(deployment, STREAM_FUNCTION)["FunctionArn"]
    ]
    out = outputs(deployment)
    (source,) = [e for e in chalice_app.event_sources if type(e).__name__ == "DynamoDBEventConfig"]
    assert mapping["EventSourceArn"] == out["TableStreamArn"]
    assert mapping["BatchSize"] == source.batch_size
    settings = event_sources.stream_mapping_settings(out["StreamFailureQueueArn"])
    assert {k: mapping[k] for k in settings} == settings
    assert mapping["MaximumRetryAttempts"] == event_sources.STREAM_MAX_RETRY_ATTEMPTS == 5
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert out["StreamFailureQueueArn"].endswith(":people-api-dev-stream-failures")


def test_the_webhook_deliverer_reads_its_queue_with_partial_batch_failures(
    deployment: Deployment, chalice_app: Any
) -> None:
    every = deployment.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    deliverer = function(deployment, DELIVERY_FUNCTION)["FunctionArn"]
    (mapping,) = [m for m in every if m["FunctionArn"] == deliverer]
    out = outputs(deployment)
    assert mapping["EventSourceArn"] == out["WebhookDeliveryQueueArn"]
    (source,) = [e for e in chalice_app.event_sources if type(e).__name__ == "SQSEventConfig"]
    assert mapping["BatchSize"] == source.batch_size == event_sources.WEBHOOK_DELIVERY_BATCH_SIZE
    assert mapping["FunctionResponseTypes"] == list(event_sources.DELIVERY_RESPONSE_TYPES)


def test_sns_subscription_dead_letters_to_the_stacks_queue(deployment: Deployment) -> None:
    out = outputs(deployment)
    sns = deployment.client("sns")
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=out["ChangesTopicArn"])["Subscriptions"]
    assert sorted((s["Protocol"], s["Endpoint"].rsplit(":", 1)[-1]) for s in subscriptions) == [
        ("lambda", FAN_OUT_FUNCTION),
        ("lambda", SNS_FUNCTION),
    ]
    for subscription in subscriptions:  # the history and the webhook fan-out alike
        arn = subscription["SubscriptionArn"]
        attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        assert json.loads(attributes["RedrivePolicy"]) == {
            "deadLetterTargetArn": out["SubscriberDeadLetterQueueArn"]
        }
    for name in (SNS_FUNCTION, FAN_OUT_FUNCTION):
        invoke = deployment.client("lambda").get_function_event_invoke_config(FunctionName=name)
        assert invoke["MaximumRetryAttempts"] == event_sources.SUBSCRIBER_MAX_RETRY_ATTEMPTS
        assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == out["SubscriberDeadLetterQueueArn"]


# --- the REST API ----------------------------------------------------------------------


def test_every_route_is_integrated_with_the_api_function(deployment: Deployment, chalice_app: Any) -> None:
    apigw = deployment.client("apigateway")
    api_id = rest_api_id(deployment)
    resources = apigw.get_resources(restApiId=api_id, embed=["methods"], limit=500)["items"]
    # OPTIONS too: CORS preflights are routes of the app (without the authorizer).
    deployed = {(r["path"], method) for r in resources for method in r.get("resourceMethods", {})}
    declared = {(path, method) for path, entry in chalice_app.routes.items() for method in entry}
    assert deployed == declared
    api_arn = function(deployment, API_FUNCTION)["FunctionArn"]
    for r in resources:
        for method in r.get("resourceMethods", {}):
            integration = apigw.get_integration(restApiId=api_id, resourceId=r["id"], httpMethod=method)
            assert integration["type"].upper() == "AWS_PROXY", (r["path"], method)  # moto lower-cases it
            assert api_arn in integration["uri"], (r["path"], method)
    stages = [s["stageName"] for s in apigw.get_stages(restApiId=api_id)["item"]]
    assert stages == [stage_config(deployment)["stages"][STAGE]["api_gateway_stage"]]


def test_every_people_route_sent_to_api_gateway_uses_the_stages_user_pool(deployment: Deployment) -> None:
    """moto drops authorizers on import, so read the document Chalice sent."""
    from devstack.emulator import IMPORTED_API_DOCUMENTS

    api_id = rest_api_id(deployment)
    documents = [doc for sent_to, doc in IMPORTED_API_DOCUMENTS if sent_to == api_id]
    assert documents
    swagger = documents[-1]
    assert_people_routes_use_pool(swagger, deployment.pool_arn)
    preflights = [methods["options"] for methods in swagger["paths"].values() if "options" in methods]
    assert len(preflights) == len(swagger["paths"])  # every path answers a CORS preflight...
    assert all("security" not in spec for spec in preflights)  # ...without a token


def test_gateway_answers_are_problem_json_with_cors(deployment: Deployment) -> None:
    apigw = deployment.client("apigateway")
    installed = {
        r["responseType"]: r for r in apigw.get_gateway_responses(restApiId=rest_api_id(deployment))["items"]
    }
    table = json.loads((ROOT / "infra" / "gateway-responses.json").read_text())
    for response_type, spec in table.items():
        if response_type.startswith("_"):
            continue
        response = installed[response_type]
        params = response["responseParameters"]
        assert params["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
        origins = stage_config(deployment)["stages"][STAGE]["environment_variables"]["CORS_ALLOWED_ORIGINS"]
        assert params["gatewayresponse.header.Access-Control-Allow-Origin"] == f"'{origins}'"
        assert params["gatewayresponse.header.Vary"] == "'Origin'"
        body = json.loads(response["responseTemplates"]["application/json"])
        assert body["type"] == spec["type"] and body["title"] == spec["title"]
        assert body["request_id"] == "$context.requestId"
        if spec["status"] is not None:
            assert response["statusCode"] == str(spec["status"]) == str(body["status"])
    assert "gatewayresponse.header.WWW-Authenticate" in installed["UNAUTHORIZED"]["responseParameters"]


def test_the_api_stage_is_throttled(deployment: Deployment) -> None:
    apigw = deployment.client("apigateway")
    api_stage = stage_config(deployment)["stages"][STAGE]["api_gateway_stage"]
    settings = apigw.get_stage(restApiId=rest_api_id(deployment), stageName=api_stage)["methodSettings"]
    rate, burst = deploy.THROTTLING.get(STAGE, deploy.DEFAULT_THROTTLING)
    assert settings["*/*"]["throttlingRateLimit"] == rate == 20.0
    assert settings["*/*"]["throttlingBurstLimit"] == burst == 40


# --- the rest --------------------------------------------------------------------------


def test_each_function_logs_to_a_group_with_the_stages_retention(deployment: Deployment) -> None:
    groups = deployment.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/people-api-")[
        "logGroups"
    ]
    assert {g["logGroupName"]: g["retentionInDays"] for g in groups} == {
        f"/aws/lambda/{name}": deploy.DEFAULT_LOG_RETENTION_DAYS for name in FUNCTIONS.values()
    }


def test_the_cursor_key_stays_in_ssm_and_the_functions_get_its_name(deployment: Deployment) -> None:
    ssm = deployment.client("ssm")
    parameters = ssm.describe_parameters()["Parameters"]
    name = deploy.cursor_secret_parameter(STAGE)
    assert [(p["Name"], p["Type"]) for p in parameters] == [(name, "SecureString")]
    key = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    assert len(key) >= 40
    env = stage_config(deployment)["stages"][STAGE]["environment_variables"]
    assert env["CURSOR_SECRET_PARAMETER"] == name == f"/people-api/{STAGE}/cursor-secret"
    assert "CURSOR_SECRET" not in env
    for fn in FUNCTIONS.values():
        assert key not in json.dumps(function(deployment, fn)), fn
    # Nothing the deploy wrote into the project holds the key: not config.json, not a policy.
    for path in deployment.project.rglob("*"):
        if path.is_file() and ".venv" not in path.parts:
            assert key.encode() not in path.read_bytes(), path


def test_the_stack_has_the_tables_topic_and_queues_and_no_pool_of_its_own(deployment: Deployment) -> None:
    out = outputs(deployment)
    table = deployment.client("dynamodb").describe_table(TableName=out["TableName"])["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["DeletionProtectionEnabled"] is False
    assert out["UserPoolArn"] == deployment.pool_arn and out["UserPoolId"] == deployment.pool_id
    assert [
        p["Id"] for p in deployment.client("cognito-idp").list_user_pools(MaxResults=10)["UserPools"]
    ] == [deployment.pool_id]
    groups = deployment.client("cognito-idp").list_groups(UserPoolId=deployment.pool_id)["Groups"]
    assert [g["GroupName"] for g in groups] == ["admins"]


def template_alarms(deployment: Deployment) -> list[dict[str, Any]]:
    """The template's alarms with their dimensions resolved for the deployed stage.

    moto's CloudFormation skips AWS::CloudWatch::Alarm, so the alarms are read from the template
    and their dimensions resolved for the stage (and checked against what was deployed).
    """
    from cfnlint.decode import decode_str

    template, errors = decode_str((deployment.project / "infra" / "template.yaml").read_text())
    assert not errors
    sqs = deployment.client("sqs")

    def queue_name(logical_id: str) -> str:
        name = str(template["Resources"][logical_id]["Properties"]["QueueName"]["Fn::Sub"]).replace(
            "${Stage}", STAGE
        )
        sqs.get_queue_url(QueueName=name)  # deployed under that name
        return name

    def resolve(value: Any) -> Any:
        if isinstance(value, dict) and "Fn::Sub" in value:
            return value["Fn::Sub"].replace("${Stage}", STAGE)
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            assert attribute == "QueueName"
            return queue_name(logical_id)
        if isinstance(value, dict) and "Ref" in value:
            return value["Ref"]
        return value

    alarms = []
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            props = resource["Properties"]
            dims = tuple(sorted((d["Name"], resolve(d["Value"])) for d in props["Dimensions"]))
            alarms.append({**props, "Dimensions": dims, "AlarmName": resolve(props["AlarmName"])})
    return alarms


def test_alarms_watch_errors_throttles_lag_and_dead_letters_of_what_was_deployed(
    deployment: Deployment,
) -> None:
    alarms = template_alarms(deployment)
    watched = {(a["Namespace"], a["MetricName"], a["Dimensions"]) for a in alarms}
    api = deployment.client("apigateway").get_rest_api(restApiId=rest_api_id(deployment))
    api_stage = stage_config(deployment)["stages"][STAGE]["api_gateway_stage"]
    expected = {("AWS/ApiGateway", "5XXError", (("ApiName", api["name"]), ("Stage", api_stage)))}
    for name in FUNCTIONS.values():
        function(deployment, name)  # deployed under that name
        expected |= {("AWS/Lambda", metric, (("FunctionName", name),)) for metric in ("Errors", "Throttles")}
    expected.add(("AWS/Lambda", "IteratorAge", (("FunctionName", STREAM_FUNCTION),)))
    out = outputs(deployment)
    for arn in (
        out["StreamFailureQueueArn"],
        out["SubscriberDeadLetterQueueArn"],
        out["WebhookFailureQueueArn"],
    ):
        expected.add(
            ("AWS/SQS", "ApproximateNumberOfMessagesVisible", (("QueueName", arn.rsplit(":", 1)[-1]),))
        )
    assert watched == expected
    assert len(alarms) == len(expected)
    assert len({a["AlarmName"] for a in alarms}) == len(alarms)
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}] == alarm["OKActions"], alarm["AlarmName"]
        assert alarm["AlarmName"].startswith(f"people-api-{STAGE}-")
    topics = [t["TopicArn"] for t in deployment.client("sns").list_topics()["Topics"]]
    assert out["AlarmTopicArn"] in topics and out["AlarmTopicArn"].endswith(f":people-api-{STAGE}-alarms")


# --- the GitHub deploy role (make deploy DEPLOY_FROM_GITHUB=...) ---------------------


def policy(value: Any) -> dict[str, Any]:
    """A policy document as IAM returns it (moto's CloudFormation stores a Python repr of it)."""
    import ast

    if isinstance(value, dict):
        return value
    try:
        loaded: dict[str, Any] = json.loads(value)
    except ValueError:
        loaded = ast.literal_eval(value)
    return loaded


def deploy_role(deployment: Deployment) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    iam = deployment.client("iam")
    arn = outputs(deployment)["GitHubDeployRoleArn"]
    role = iam.get_role(RoleName=arn.rsplit("/", 1)[-1])["Role"]
    statements = []
    for name in iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role["RoleName"], PolicyName=name)["PolicyDocument"]
        statements += policy(document)["Statement"]
    return role, statements


def allowed(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    def listed(value: Any) -> list[str]:
        return [value] if isinstance(value, str) else list(value)

    return any(
        s["Effect"] == "Allow"
        and any(fnmatchcase(action, a) for a in listed(s["Action"]))
        and any(fnmatchcase(resource, r) for r in listed(s["Resource"]))
        for s in statements
    )


def test_only_the_repositorys_main_branch_may_assume_the_deploy_role(deployment: Deployment) -> None:
    role, _ = deploy_role(deployment)
    (statement,) = policy(role["AssumeRolePolicyDocument"])["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": f"repo:{GITHUB_REPOSITORY}:ref:refs/heads/main",
    }


def test_the_deploy_role_reaches_everything_deployed_and_no_other_role(deployment: Deployment) -> None:
    role, statements = deploy_role(deployment)
    out = outputs(deployment)
    region, account = out["TableArn"].split(":")[3:5]
    for name in FUNCTIONS.values():
        fn = function(deployment, name)
        assert allowed(statements, "lambda:UpdateFunctionCode", fn["FunctionArn"]), name
        assert allowed(statements, "iam:PutRolePolicy", fn["Role"]), name
        assert allowed(statements, "iam:PassRole", fn["Role"]), name
        assert allowed(
            statements,
            "logs:PutRetentionPolicy",
            f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{name}",
        )
    for arn in (
        out["TableArn"],
        out["ChangesTopicArn"],
        out["StreamFailureQueueArn"],
        out["SubscriberDeadLetterQueueArn"],
        out["AlarmTopicArn"],
    ):
        service = arn.split(":")[2]
        assert allowed(statements, f"{service}:DeleteSomething", arn), arn
    assert allowed(
        statements,
        "ssm:PutParameter",
        f"arn:aws:ssm:{region}:{account}:parameter/people-api/{STAGE}/cursor-secret",
    )
    assert allowed(
        statements,
        "apigateway:PATCH",
        f"arn:aws:apigateway:{region}::/restapis/{rest_api_id(deployment)}/stages/api",
    )
    # Not itself, not another stage, not another role of the account.
    for other in (
        role["Arn"],
        f"arn:aws:iam::{account}:role/people-api-prod-api_handler",
        f"arn:aws:iam::{account}:role/admin",
    ):
        assert not allowed(statements, "iam:PutRolePolicy", other), other
        assert not allowed(statements, "iam:PassRole", other), other
    assert not allowed(
        statements, "lambda:UpdateFunctionCode", f"arn:aws:lambda:{region}:{account}:function:other"
    )
    assert not allowed(
        statements, "dynamodb:DeleteTable", f"arn:aws:dynamodb:{region}:{account}:table/people-api-prod"
    )


# --- the README's smoke test, on the deployed code ------------------------------------
# The emulator cannot run a function (no Docker) nor serve the REST API through one, so the
# uploaded zip runs as Lambda would run it (harness.LambdaProcess), on the proxy events the
# deployed API's resources give. API Gateway's own authorizer is not executed (the document
# Chalice sent is checked above): the caller's claims are those of a user of the stage's pool,
# handed on as that authorizer hands them.


def smoke_url(deployment: Deployment) -> str:
    """The URL in front of `/health` in the smoke test the deploy printed."""
    (url,) = re.findall(r"^smoke test: curl -sS (\S+)/health$", deployment.printed, re.MULTILINE)
    return str(url)


def deployed_api(deployment: Deployment) -> DeployedApi:
    account = function(deployment, API_FUNCTION)["FunctionArn"].split(":")[4]
    api_stage = stage_config(deployment)["stages"][STAGE]["api_gateway_stage"]
    return DeployedApi.read(deployment, rest_api_id(deployment), api_stage, account)


@pytest.fixture(scope="module")
def api_function(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaProcess]:
    """The API function as deployed, started once (later requests are warm invocations)."""
    sdk = runtime_sdk(RUNTIME_SDK_RANGE[0])
    process = deployed_function(deployment, API_FUNCTION, tmp_path_factory.mktemp("api-function"), sdk)
    yield process
    process.close()


@pytest.fixture(scope="module")
def signed_in(deployment: Deployment) -> tuple[str, dict[str, str]]:
    """A user of the stage's pool, signed in: the ID token, and its claims as the authorizer
    hands them to the function."""
    token = sign_in(deployment, "ada@example.com", "Correct-Horse-1")
    return token, authorizer_claims(deployment, token)


def test_the_printed_smoke_test_names_the_deployed_api_and_stage(deployment: Deployment) -> None:
    api = deployed_api(deployment)
    assert api.stage == "api"
    assert smoke_url(deployment) == api.url == f"https://{api.api_id}.execute-api.{REGION}.amazonaws.com/api"


def test_the_smoke_test_passes_on_the_deployed_function(
    deployment: Deployment, api_function: LambdaProcess
) -> None:
    """`curl -sS <url>/health` as the deploy printed it, answered by the uploaded code."""
    api = deployed_api(deployment)
    printed = smoke_url(deployment) + "/health"
    assert printed.startswith(api.url + "/")
    answer = api_function.invoke(api.event("GET", printed.removeprefix(api.url)))
    assert answer["statusCode"] == 200, answer
    assert answer["headers"]["Content-Type"] == "application/json"
    assert json.loads(answer["body"]) == {"status": "ok"}


def test_a_signed_in_user_keeps_people_in_the_deployed_table(
    deployment: Deployment, api_function: LambdaProcess, signed_in: tuple[str, dict[str, str]]
) -> None:
    """The deployed code with the deployed configuration (table, region, the cursor key's SSM
    parameter): create, read, list page by page and delete, each seen in the stage's table."""
    from chalicelib.adapters.keys import PERSON_SK, person_pk
    from chalicelib.web.pagination import CursorCodec

    api = deployed_api(deployment)
    token, claims = signed_in
    dynamodb = deployment.client("dynamodb")
    table = outputs(deployment)["TableName"]

    def call(method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, str], Any]:
        answer = api_function.invoke(api.event(method, path, claims=claims, token=token, **kwargs))
        return answer["statusCode"], answer["headers"], json.loads(answer["body"])

    def stored(person_id: str) -> dict[str, Any]:
        key = {"pk": {"S": person_pk(person_id)}, "sk": {"S": PERSON_SK}}
        item: dict[str, Any] = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
        return item

    status, headers, ada = call("POST", "/people", body={"name": "Ada Lovelace"})
    assert status == 201, ada
    assert headers["Location"] == f"/{api.stage}/people/{ada['id']}"
    item = stored(ada["id"])
    assert (item["name"]["S"], item["owner"]["S"]) == ("Ada Lovelace", claims["sub"])
    status, _, fetched = call("GET", f"/people/{ada['id']}")
    assert (status, fetched) == (200, ada)

    status, _, grace = call("POST", "/people", body={"name": "Grace Hopper"})
    assert status == 201, grace
    in_order = sorted((ada, grace), key=lambda p: p["id"])  # ids (ULIDs) sort by creation
    status, _, listed = call("GET", "/people")
    assert (status, listed) == (200, in_order)
    # Page by page: the cursor is signed with the key in the stage's SSM parameter.
    status, headers, first = call("GET", "/people", query={"limit": "1"})
    assert (status, first) == (200, in_order[:1])
    (link,) = re.findall(r"^<([^>]+)>; rel=\"next\"$", headers["Link"])
    query = dict(parse_qsl(urlsplit(link).query))
    ssm = deployment.client("ssm")
    key = ssm.get_parameter(Name=deploy.cursor_secret_parameter(STAGE), WithDecryption=True)["Parameter"][
        "Value"
    ]
    assert CursorCodec(key.encode()).decode(f"people:{claims['sub']}", query["cursor"]) == in_order[0]["id"]
    status, _, second = call("GET", urlsplit(link).path.removeprefix(f"/{api.stage}"), query=query)
    assert (status, second) == (200, in_order[1:])

    for person in (ada, grace):
        status, _, deleted = call("DELETE", f"/people/{person['id']}")
        assert (status, deleted) == (200, {})
        assert "deleted_at" in stored(person["id"])
        status, _, problem = call("GET", f"/people/{person['id']}")
        assert status == 404, problem
    assert call("GET", "/people")[::2] == (200, [])


def test_the_deployed_function_ran_on_its_package_and_the_runtimes_sdk_only(
    deployment: Deployment, api_function: LambdaProcess, signed_in: tuple[str, dict[str, str]]
) -> None:
    token, claims = signed_in
    answer = api_function.invoke(deployed_api(deployment).event("GET", "/people", claims=claims, token=token))
    assert answer["statusCode"] == 200, answer  # a request that reads the table
    loaded = api_function.loaded
    roots = (f"{api_function.task_root}{os.sep}", f"{api_function.sdk}{os.sep}")
    assert [f for f in loaded if not f.startswith(roots)] == []
    assert any(f.startswith(roots[0] + "chalicelib") for f in loaded)
    assert any(f.startswith(roots[1] + "botocore") for f in loaded)  # the wiring's clients


def test_the_deployed_stream_handler_publishes_a_change_to_the_deployed_topic(
    deployment: Deployment,
    api_function: LambdaProcess,
    signed_in: tuple[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    """A create's stream records, as the emulator hands them to the stream function's mapping,
    run on that function's uploaded code: its change event reaches the stage's topic, which
    would deliver it to both subscribers."""
    from moto.sns.models import sns_backends

    api = deployed_api(deployment)
    token, claims = signed_in
    before = len(INVOCATIONS)
    answer = api_function.invoke(
        api.event("POST", "/people", body={"name": "Mary Somerville"}, claims=claims, token=token)
    )
    assert answer["statusCode"] == 201, answer
    person = json.loads(answer["body"])
    batches = [event for name, event in INVOCATIONS[before:] if name == STREAM_FUNCTION]
    assert batches
    stream = deployed_function(deployment, STREAM_FUNCTION, tmp_path, runtime_sdk(RUNTIME_SDK_RANGE[0]))
    try:
        for batch in batches:
            assert stream.invoke(batch) == {"batchItemFailures": []}, stream.output()
    finally:
        stream.close()
    topic_arn = outputs(deployment)["ChangesTopicArn"]
    region, account = topic_arn.split(":")[3:5]
    published = [
        message for _, message, *_ in sns_backends[account][region].topics[topic_arn].sent_notifications
    ]
    (message,) = [m for m in published if (json.loads(m)["data"]["after"] or {}).get("id") == person["id"]]
    event = json.loads(message)
    assert (event["type"], event["source"]) == ("people.person.created", f"people-api/{STAGE}")
    assert event["data"]["after"] == person and event["data"]["owner"] == claims["sub"]
    delivered = [
        name
        for name, sent in INVOCATIONS[before:]
        for record in sent.get("Records", [])
        if record.get("Sns", {}).get("Message") == message
    ]
    assert sorted(delivered) == sorted([SNS_FUNCTION, FAN_OUT_FUNCTION])


# --- make package: the same infrastructure --------------------------------------------


def test_make_package_describes_what_the_deploy_created(deployment: Deployment, tmp_path: Path) -> None:
    """`make package` in a fresh clone (placeholders in .chalice/config.json), its template
    evaluated against the emulator's stack (exports, account, region, the functions' ARNs): it
    says what `make deploy` made, the stack's names and ARNs included."""
    from devstack.emulator import IMPORTED_API_DOCUMENTS

    fresh = replace(deployment, project=project_copy(tmp_path))
    placeholders = deploy.placeholder_outputs(STAGE)
    config = fresh.project / ".chalice" / "config.json"
    deploy.write_stage_config(config, STAGE, deploy.stage_env_from(placeholders, STAGE))
    fresh.make("package")
    template = json.loads((fresh.project / "build" / f"package-{STAGE}" / "sam.json").read_text())
    resources = template["Resources"]
    exports = {e["Name"]: e["Value"] for e in deployment.client("cloudformation").list_exports()["Exports"]}
    packaged = packaged_resources(template, "AWS::Serverless::Function")
    deployed = {
        logical_id: function(deployment, props["FunctionName"]) for logical_id, props in packaged.items()
    }
    assert sorted(props["FunctionName"] for props in packaged.values()) == sorted(FUNCTIONS.values())
    known = {
        **pseudo_parameters(next(iter(deployed.values()))["FunctionArn"]),
        **{logical_id: fn["FunctionName"] for logical_id, fn in deployed.items()},
        **{f"{logical_id}.Arn": fn["FunctionArn"] for logical_id, fn in deployed.items()},
    }

    def evaluate(value: Any) -> Any:
        return resolve(value, known, exports)

    # Each function's environment: the stack's outputs, and the stage's other settings.
    for logical_id, props in packaged.items():
        assert evaluate(props["Environment"]["Variables"]) == deployed[logical_id]["Environment"]["Variables"]
    # The authorizer's user pool, in the Swagger document Chalice sent (moto drops authorizers).
    (document,) = [doc for sent_to, doc in IMPORTED_API_DOCUMENTS if sent_to == rest_api_id(deployment)][-1:]
    schemes = resources["RestAPI"]["Properties"]["DefinitionBody"]["securityDefinitions"]
    assert evaluate(schemes) == document["securityDefinitions"]
    assert [
        s["x-amazon-apigateway-authorizer"]["providerARNs"] for s in document["securityDefinitions"].values()
    ] == [[deployment.pool_arn]]
    # Each role's policy.
    iam = deployment.client("iam")
    for logical_id, props in packaged.items():
        (document,) = resources[props["Role"]["Fn::GetAtt"][0]]["Properties"]["Policies"]
        role = deployed[logical_id]["Role"].rsplit("/", 1)[-1]
        (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
        installed = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        installed = json.loads(installed) if isinstance(installed, str) else installed
        assert evaluate(document["PolicyDocument"]) == installed, props["FunctionName"]
    # Log groups and their retention.
    groups = deployment.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    assert {
        props["LogGroupName"]: props["RetentionInDays"]
        for props in packaged_resources(template, "AWS::Logs::LogGroup").values()
    } == {g["logGroupName"]: g["retentionInDays"] for g in groups}
    # Gateway responses and throttling.
    apigw = deployment.client("apigateway")
    api_id = rest_api_id(deployment)
    api = resources["RestAPI"]["Properties"]
    responses = api["DefinitionBody"]["x-amazon-apigateway-gateway-responses"]
    installed_responses = {
        r["responseType"]: r for r in apigw.get_gateway_responses(restApiId=api_id)["items"]
    }
    assert set(responses) == set(installed_responses)
    for response_type, response in responses.items():
        assert {k: installed_responses[response_type].get(k) for k in response} == response, response_type
    (throttle,) = api["MethodSettings"]
    settings = apigw.get_stage(restApiId=api_id, stageName=api["StageName"])["methodSettings"]
    assert (throttle["ResourcePath"], throttle["HttpMethod"]) == ("/*", "*")
    assert settings["*/*"]["throttlingRateLimit"] == throttle["ThrottlingRateLimit"]
    assert settings["*/*"]["throttlingBurstLimit"] == throttle["ThrottlingBurstLimit"]
    # The SNS subscriptions and their redrive policy.
    sns = deployment.client("sns")
    installed_subscriptions = {
        (s["TopicArn"], s["Protocol"], s["Endpoint"]): json.loads(
            sns.get_subscription_attributes(SubscriptionArn=s["SubscriptionArn"])["Attributes"][
                "RedrivePolicy"
            ]
        )
        for s in sns.list_subscriptions()["Subscriptions"]
    }
    assert {
        (evaluate(p["TopicArn"]), p["Protocol"], evaluate(p["Endpoint"])): evaluate(p["RedrivePolicy"])
        for p in packaged_resources(template, "AWS::SNS::Subscription").values()
    } == installed_subscriptions
    # SNS may invoke each subscriber for that topic only.
    for p in packaged_resources(template, "AWS::Lambda::Permission").values():
        if p["Principal"] != "sns.amazonaws.com":
            continue
        name = deployed[p["FunctionName"]["Ref"]]["FunctionName"]
        statements = json.loads(deployment.client("lambda").get_policy(FunctionName=name)["Policy"])[
            "Statement"
        ]
        assert [s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in statements] == [evaluate(p["SourceArn"])]
    # The event source mappings and the asynchronous invoke configs.
    lam = deployment.client("lambda")
    mappings = {m["FunctionArn"]: m for m in lam.list_event_source_mappings()["EventSourceMappings"]}
    sources = {"DynamoDB": "Stream", "SQS": "Queue"}
    compared = 0
    for logical_id, props in packaged.items():
        for event in (props.get("Events") or {}).values():
            settings = evaluate(event["Properties"])
            mapping = mappings[deployed[logical_id]["FunctionArn"]]
            assert mapping["EventSourceArn"] == settings.pop(sources[event["Type"]])
            settings.pop("StartingPosition", None)  # not returned by the emulator
            assert {k: mapping.get(k) for k in settings} == settings, logical_id
            compared += 1
        if "EventInvokeConfig" in props:
            invoke = lam.get_function_event_invoke_config(FunctionName=deployed[logical_id]["FunctionName"])
            expected = evaluate(props["EventInvokeConfig"])
            assert invoke["MaximumRetryAttempts"] == expected["MaximumRetryAttempts"]
            assert (
                invoke["DestinationConfig"]["OnFailure"]["Destination"]
                == (expected["DestinationConfig"]["OnFailure"]["Destination"])
            )
            compared += 1
    assert compared == len(mappings) + 2  # the two SNS subscribers' invoke configs


# --- re-deploy and destroy -------------------------------------------------------------


def snapshot(deployment: Deployment) -> dict[str, Any]:
    """Everything a re-deploy must leave as it was (minus timestamps and deployment ids)."""
    lam = deployment.client("lambda")
    apigw = deployment.client("apigateway")
    api_id = rest_api_id(deployment)
    volatile = {
        "LastModified",
        "RevisionId",
        "CodeSha256",
        "CodeSize",
        "ResponseMetadata",
        "LastUpdateStatus",
    }
    return {
        "outputs": outputs(deployment),
        "functions": {
            name: {k: v for k, v in function(deployment, name).items() if k not in volatile}
            for name in FUNCTIONS.values()
        },
        "roles": sorted(r["Arn"] for r in deployment.client("iam").list_roles()["Roles"]),
        "mappings": [
            {k: v for k, v in m.items() if k not in {"LastModified", "State", "StateTransitionReason"}}
            for m in lam.list_event_source_mappings()["EventSourceMappings"]
        ],
        "subscriptions": deployment.client("sns").list_subscriptions()["Subscriptions"],
        "api": api_id,
        "routes": sorted(
            (r["path"], sorted(r.get("resourceMethods", {})))
            for r in apigw.get_resources(restApiId=api_id, limit=500)["items"]
        ),
        "gateway_responses": apigw.get_gateway_responses(restApiId=api_id)["items"],
        "stage": {
            k: v
            for k, v in apigw.get_stages(restApiId=api_id)["item"][0].items()
            if k not in {"deploymentId", "lastUpdatedDate", "createdDate"}
        },
        "log_groups": [
            (g["logGroupName"], g.get("retentionInDays"))
            for g in deployment.client("logs").describe_log_groups()["logGroups"]
        ],
        "parameters": [p["Name"] for p in deployment.client("ssm").describe_parameters()["Parameters"]],
        "config": stage_config(deployment),
    }


def test_deploying_again_changes_nothing(deployment: Deployment) -> None:
    """Plain `make deploy` this time: the pool and the GitHub role given the first time are kept."""
    before = snapshot(deployment)
    deployment.make("deploy")
    after = snapshot(deployment)
    for key in before:
        assert after[key] == before[key], key


def test_destroy_leaves_nothing_behind(deployment: Deployment) -> None:
    deployment.make("destroy")
    assert deployment.client("lambda").list_functions()["Functions"] == []
    assert deployment.client("lambda").list_event_source_mappings()["EventSourceMappings"] == []
    assert deployment.client("apigateway").get_rest_apis()["items"] == []
    assert [r["RoleName"] for r in deployment.client("iam").list_roles()["Roles"]] == []
    assert deployment.client("sns").list_topics()["Topics"] == []
    assert deployment.client("sns").list_subscriptions()["Subscriptions"] == []
    assert deployment.client("sqs").list_queues().get("QueueUrls", []) == []
    assert deployment.client("dynamodb").list_tables()["TableNames"] == []
    assert deployment.client("logs").describe_log_groups()["logGroups"] == []
    assert deployment.client("ssm").describe_parameters()["Parameters"] == []
    stacks = deployment.client("cloudformation").list_stacks()["StackSummaries"]
    assert {s["StackStatus"] for s in stacks} <= {"DELETE_COMPLETE"}
    assert not (deployment.project / ".chalice" / "deployed" / f"{STAGE}.json").exists() or not json.loads(
        (deployment.project / ".chalice" / "deployed" / f"{STAGE}.json").read_text()
    ).get("resources")
    assert REGION  # everything above was read in the deployment's own region


def test_the_checkout_was_not_touched(deployment: Deployment) -> None:
    assert Path(deployment.project) != ROOT
    assert not (ROOT / ".chalice" / "deployed" / f"{STAGE}.json").exists()
