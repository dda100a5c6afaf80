"""One definition of the event sources, used by every path; one package, whatever ran before."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from devstack import ROOT
from infra import deploy, event_sources
from tests.deploy.harness import packaged_resources, project_copy, pseudo_parameters, resolve

STAGE = "dev"
# The README's instructions for running Chalice by hand ("Deploy"), with `package` for `deploy`.
README_CHALICE = "rm -rf .chalice/deployments && PIP_NO_DEPS=1 chalice {command} --stage dev"


def clean_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CACHE_DIR", "SSL_CERT_FILE")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    venv_bin = str(Path(sys.executable).parent)
    return {**env, "PATH": f"{venv_bin}{os.pathsep}{env.get('PATH', '')}", "AWS_DEFAULT_REGION": "us-east-1"}


def run(project: Path, command: str) -> None:
    result = subprocess.run(command, shell=True, cwd=project, env=clean_env(), capture_output=True, text=True)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"


def make_package(project: Path, out: str) -> None:
    make = f"make --no-print-directory package STAGE={STAGE} PYTHON={sys.executable}"
    run(project, f"{make} && mv build/package-{STAGE} {out}")


def zip_contents(path: Path) -> dict[str, int]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: info.CRC for info in archive.infolist()}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return project_copy(tmp_path_factory.mktemp("project"))


def fresh_clone_config(project: Path) -> None:
    """.chalice/config.json as a fresh clone has it: placeholders where the stack's outputs go."""
    outputs = deploy.placeholder_outputs(STAGE)
    deploy.write_stage_config(
        project / ".chalice" / "config.json", STAGE, deploy.stage_env_from(outputs, STAGE)
    )


def placeholder_exports() -> dict[str, str]:
    """The stage stack's exports, had it the placeholder outputs."""
    return {f"people-api-{STAGE}-{k}": v for k, v in deploy.placeholder_outputs(STAGE).items()}


@pytest.fixture(scope="module")
def packaged(project: Path) -> dict[str, Any]:
    """`make package` in a fresh clone (whatever the checkout's last deploy wrote in config.json)."""
    fresh_clone_config(project)
    make_package(project, "defined")
    template: dict[str, Any] = json.loads((project / "defined" / "sam.json").read_text())
    return template


def stack_queue_names() -> set[str]:
    template, errors = decode_str((ROOT / "infra" / "template.yaml").read_text())
    assert not errors
    return {
        resource["Properties"]["QueueName"]["Fn::Sub"].replace("${Stage}", STAGE)
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::SQS::Queue"
    }


def test_make_package_sends_failures_to_the_stacks_queues_with_the_defined_settings(
    packaged: dict[str, Any],
) -> None:
    resources = packaged["Resources"]
    assert {r["Type"] for r in resources.values()} <= {
        "AWS::Serverless::Function", "AWS::IAM::Role", "AWS::Serverless::Api", "AWS::Lambda::Permission",
        "AWS::Logs::LogGroup", "AWS::SNS::Subscription",
    }, "the package must not bring queues of its own"  # fmt: skip
    stream = resources["PublishChanges"]["Properties"]["Events"]["PublishChangesDynamodbEventSource"][
        "Properties"
    ]
    failures = stream["DestinationConfig"]["OnFailure"]["Destination"]
    assert {k: stream[k] for k in event_sources.stream_mapping_settings(failures)} == (
        event_sources.stream_mapping_settings(failures)
    )
    invoke = resources["RecordNotification"]["Properties"]["EventInvokeConfig"]
    dead_letters = invoke["DestinationConfig"]["OnFailure"]["Destination"]
    assert invoke["MaximumRetryAttempts"] == event_sources.SUBSCRIBER_MAX_RETRY_ATTEMPTS
    assert resources["FanOutWebhooks"]["Properties"]["EventInvokeConfig"] == invoke
    delivery = resources["DeliverWebhooks"]["Properties"]["Events"]["DeliverWebhooksSqsEventSource"]
    assert delivery["Properties"]["FunctionResponseTypes"] == list(event_sources.DELIVERY_RESPONSE_TYPES)
    assert delivery["Properties"]["BatchSize"] == event_sources.WEBHOOK_DELIVERY_BATCH_SIZE
    queues = {arn["Fn::Sub"].rsplit(":", 1)[-1] for arn in (failures, dead_letters)}
    assert queues == {
        event_sources.queue_name(event_sources.STREAM_FAILURE_QUEUE, STAGE),
        event_sources.queue_name(event_sources.SUBSCRIBER_DLQ, STAGE),
    }
    # The stack's other queues are the webhooks': the package's deliverer reads the one it names.
    assert stack_queue_names() - queues == {
        f"people-api-{STAGE}-webhook-deliveries",
        f"people-api-{STAGE}-webhook-failures",
    }


def stage_config(project: Path) -> dict[str, Any]:
    config: dict[str, Any] = json.loads((project / ".chalice" / "config.json").read_text())
    return config["stages"][STAGE]


def handler_of(props: dict[str, Any]) -> str:
    """The app.py handler a packaged function runs (Chalice's Handler: app.<name>, the API's app.app)."""
    name = str(props["Handler"]).removeprefix("app.")
    return "api_handler" if name == "app" else name


def test_make_package_has_the_deploys_gateway_responses(packaged: dict[str, Any], project: Path) -> None:
    from chalicelib.config import parse_allowed_origins

    table = json.loads((project / "infra" / "gateway-responses.json").read_text())
    origin = stage_config(project)["environment_variables"]["CORS_ALLOWED_ORIGINS"]
    expected = deploy.gateway_responses(table, parse_allowed_origins(origin))
    body = packaged["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    installed = body.get("x-amazon-apigateway-gateway-responses")
    assert installed == {
        r["responseType"]: {k: v for k, v in r.items() if k != "responseType"} for r in expected
    }
    assert set(installed) == {name for name in table if not name.startswith("_")}
    unauthorized = installed["UNAUTHORIZED"]
    assert unauthorized["statusCode"] == "401"
    headers = unauthorized["responseParameters"]
    assert headers["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
    assert headers["gatewayresponse.header.Access-Control-Allow-Origin"] == f"'{origin}'"


def test_make_package_throttles_every_method_as_the_deploy_does(packaged: dict[str, Any]) -> None:
    rate, burst = deploy.THROTTLING.get(STAGE, deploy.DEFAULT_THROTTLING)
    assert packaged["Resources"]["RestAPI"]["Properties"].get("MethodSettings") == [
        {"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": rate, "ThrottlingBurstLimit": burst}
    ]


def test_make_package_names_the_functions_as_the_deploy_and_keeps_their_logs_as_long(
    packaged: dict[str, Any],
) -> None:
    functions = packaged_resources(packaged, "AWS::Serverless::Function")
    assert {handler_of(props): props.get("FunctionName") for props in functions.values()} == {
        handler: deploy.function_name(STAGE, handler) for handler in deploy.HANDLERS
    }
    groups = packaged_resources(packaged, "AWS::Logs::LogGroup")
    assert {props["LogGroupName"]: props["RetentionInDays"] for props in groups.values()} == {
        f"/aws/lambda/{deploy.function_name(STAGE, handler)}": deploy.DEFAULT_LOG_RETENTION_DAYS
        for handler in deploy.HANDLERS
    }
    # Each function waits for its group: Lambda would otherwise create it first, keeping logs forever.
    for logical_id, props in functions.items():
        group = packaged["Resources"][logical_id].get("DependsOn")
        assert group in groups and groups[group]["LogGroupName"] == f"/aws/lambda/{props['FunctionName']}"


def test_make_package_subscriptions_dead_letter_to_the_stacks_queue(
    packaged: dict[str, Any], project: Path
) -> None:
    functions = packaged_resources(packaged, "AWS::Serverless::Function")
    events = [event for props in functions.values() for event in (props.get("Events") or {}).values()]
    assert [
        event for event in events if event["Type"] == "SNS"
    ] == []  # SAM's event has no redrive cfn-lint takes
    subscribers = sorted(
        logical_id
        for logical_id, props in functions.items()
        if handler_of(props) in {"record_notification", "fan_out_webhooks"}
    )
    topic = {"Fn::ImportValue": f"people-api-{STAGE}-ChangesTopicArn"}  # the stage stack's topic
    where = pseudo_parameters(deploy.placeholder_outputs(STAGE)["ChangesTopicArn"])
    dead_letters = "arn:{}:sqs:{}:{}:{}".format(
        *where.values(), event_sources.queue_name(event_sources.SUBSCRIBER_DLQ, STAGE)
    )
    subscriptions = packaged_resources(packaged, "AWS::SNS::Subscription")
    assert sorted(props["Endpoint"]["Fn::GetAtt"][0] for props in subscriptions.values()) == subscribers
    for props in subscriptions.values():
        assert (props["Protocol"], props["TopicArn"]) == ("lambda", topic)
        assert resolve(props["RedrivePolicy"], where, {}) == json.loads(
            event_sources.subscription_redrive_policy(dead_letters)
        )
    permissions = packaged_resources(packaged, "AWS::Lambda::Permission").values()
    assert sorted(
        (p["FunctionName"]["Ref"], p["SourceArn"], p["Action"])
        for p in permissions
        if p["Principal"] == "sns.amazonaws.com"
    ) == [(subscriber, topic, "lambda:InvokeFunction") for subscriber in subscribers]


def test_a_package_from_a_fresh_clone_names_no_placeholder(packaged: dict[str, Any], project: Path) -> None:
    """The environment, event sources and authorizer are imported from the stage's stack: the
    placeholders of a fresh clone's config.json (account 000000000000) are nowhere."""
    text = json.dumps(packaged)
    # Names (the table's, the queue's) are the stage's own in every account; the rest is not.
    placeholders = {k: v for k, v in deploy.placeholder_outputs(STAGE).items() if not k.endswith("Name")}
    assert {k: v for k, v in placeholders.items() if v in text} == {}
    assert "000000000000" not in text
    variables = stage_config(project)["environment_variables"]
    assert {variables[variable] for variable in deploy.OUTPUT_TO_ENV.values()} <= {
        *deploy.placeholder_outputs(STAGE).values()
    }  # the package was built from placeholders
    functions = packaged_resources(packaged, "AWS::Serverless::Function")
    assert len(functions) == len(deploy.HANDLERS)
    for props in functions.values():
        packaged_env = props["Environment"]["Variables"]
        for output, variable in deploy.OUTPUT_TO_ENV.items():
            assert packaged_env[variable] == {"Fn::ImportValue": f"people-api-{STAGE}-{output}"}, variable
        # What is not a stack output stays the stage's setting.
        assert {k: v for k, v in packaged_env.items() if k not in deploy.OUTPUT_TO_ENV.values()} == {
            k: v for k, v in variables.items() if k not in deploy.OUTPUT_TO_ENV.values()
        }
    # Resolved where the stack is, the package has the stack's values.
    exports = placeholder_exports()
    where = pseudo_parameters(deploy.placeholder_outputs(STAGE)["TableArn"])
    for props in functions.values():
        assert resolve(props["Environment"]["Variables"], where, exports) == variables
    events = [event for props in functions.values() for event in (props.get("Events") or {}).values()]
    sources = sorted((event["Type"], resolve(event["Properties"], where, exports)) for event in events)
    outputs = deploy.placeholder_outputs(STAGE)
    assert [(kind, props[deploy.SAM_EVENT_SOURCE[kind]]) for kind, props in sources] == [
        ("DynamoDB", outputs["TableStreamArn"]),
        ("SQS", outputs["WebhookDeliveryQueueArn"]),
    ]
    schemes = packaged["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["securityDefinitions"]
    assert [
        resolve(s["x-amazon-apigateway-authorizer"]["providerARNs"], where, exports) for s in schemes.values()
    ] == [[outputs["UserPoolArn"]]]


def test_a_source_that_is_no_stack_output_stops_the_package() -> None:
    """A topic, stream, queue or pool no output of the stack gives would be baked in: refused."""
    variables = deploy.stage_env_from(deploy.placeholder_outputs(STAGE), STAGE)
    template: dict[str, Any] = {
        "Resources": {
            "Subscriber": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Handler": "app.subscriber",
                    "Events": {"E": {"Type": "SNS", "Properties": {"Topic": variables["CHANGES_TOPIC_ARN"]}}},
                },
            },
            "RestAPI": {"Type": "AWS::Serverless::Api", "Properties": {"DefinitionBody": {}}},
        }
    }
    deploy.import_sources(template, STAGE, variables)
    event = template["Resources"]["Subscriber"]["Properties"]["Events"]["E"]
    assert event["Properties"]["Topic"] == {"Fn::ImportValue": f"people-api-{STAGE}-ChangesTopicArn"}
    event["Properties"]["Topic"] = "arn:aws:sns:us-east-1:000000000000:someone-elses-topic"
    with pytest.raises(deploy.DeployError, match="someone-elses-topic"):
        deploy.import_sources(template, STAGE, variables)


def imported_names(value: Any) -> set[str]:
    if isinstance(value, list):
        return {name for item in value for name in imported_names(item)}
    if isinstance(value, dict):
        if list(value) == ["Fn::ImportValue"]:
            return {value["Fn::ImportValue"]}
        return {name for item in value.values() for name in imported_names(item)}
    return set()


def test_make_package_gives_each_role_the_deploys_policy_on_the_stacks_exported_resources(
    packaged: dict[str, Any],
) -> None:
    """The same documents as `make deploy` writes, with the stack's resources imported by name and
    CloudFormation's own partition, region and account: no ARN of a previous deploy or placeholder."""
    outputs = deploy.placeholder_outputs(STAGE)
    exports = {f"people-api-{STAGE}-{output}": value for output, value in outputs.items()}
    expected = deploy.policy_documents(outputs, STAGE)
    functions = packaged_resources(packaged, "AWS::Serverless::Function")
    for props in functions.values():
        role = packaged["Resources"][props["Role"]["Fn::GetAtt"][0]]["Properties"]
        (policy,) = role["Policies"]
        assert "000000000000" not in json.dumps(policy), handler_of(props)
        resolved = resolve(policy["PolicyDocument"], pseudo_parameters(outputs["TableArn"]), exports)
        assert resolved == expected[handler_of(props)], handler_of(props)
    template, errors = decode_str((ROOT / "infra" / "template.yaml").read_text())
    assert not errors
    exported = {
        output["Export"]["Name"]["Fn::Sub"].replace("${AWS::StackName}", f"people-api-{STAGE}")
        for output in template["Outputs"].values()
        if "Export" in output
    }
    imported = imported_names(packaged)
    assert imported and imported <= exported


def test_the_local_pump_retries_as_deployed() -> None:
    from devstack import pump

    default = inspect.signature(pump.Pump).parameters["max_retry_attempts"].default
    assert default == event_sources.STREAM_MAX_RETRY_ATTEMPTS
    assert pump.SNS_MAX_RECEIVES == 1 + event_sources.SUBSCRIBER_MAX_RETRY_ATTEMPTS
    # Five retries ride out a local outage of about 15 s (the e2e outage test), as ten did before.
    assert sum(pump.retry_delay(n) for n in range(1, event_sources.STREAM_MAX_RETRY_ATTEMPTS + 1)) >= 15


def test_no_hand_written_event_source_settings_remain() -> None:
    """The settings are named in infra/event_sources.py and nowhere else."""
    for path in [ROOT / "infra" / "deploy.py", ROOT / "devstack" / "pump.py", ROOT / "app.py"]:
        text = path.read_text()
        for key in ("MaximumRetryAttempts=", "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError"):
            assert key not in text, (path.name, key)
    assert not (ROOT / "infra" / "event-sources.json").exists()


def test_every_path_builds_the_same_package_whatever_ran_before(project: Path) -> None:
    """A plain `chalice package` (SDK inside) leaves its zip in Chalice's cache; nothing reuses it."""
    run(project, f"chalice package --stage {STAGE} fat")  # no PIP_NO_DEPS: botocore inside
    assert "botocore/__init__.py" in zip_contents(project / "fat" / "deployment.zip")
    make_package(project, "make-first")
    run(project, README_CHALICE.format(command="package") + " readme-second")
    run(project, f"chalice package --stage {STAGE} fat-again")
    run(project, README_CHALICE.format(command="package") + " readme-first")
    make_package(project, "make-second")
    built = {name: zip_contents(project / name / "deployment.zip") for name in (
        "make-first", "readme-second", "readme-first", "make-second")}  # fmt: skip
    reference = built["make-first"]
    assert "botocore/__init__.py" not in reference and "msgspec/__init__.py" in reference
    for name, contents in built.items():
        assert contents == reference, name


def test_the_readme_gives_the_same_chalice_instructions() -> None:
    assert README_CHALICE.format(command="deploy") in (ROOT / "README.md").read_text()


def test_the_readmes_route_table_lists_exactly_the_apps_routes(chalice_app: Any) -> None:
    import re

    text = (ROOT / "README.md").read_text()
    table = text[text.index("| Route | Function |") :].split("\n\n", 1)[0]
    listed = set(re.findall(r"^\| `([A-Z]+) (/[^`]*)` \| `api_handler` \|", table, flags=re.M))
    # CORS preflights (OPTIONS on every path) are one sentence under the table, not rows.
    declared = {
        (method, path)
        for path, entry in chalice_app.routes.items()
        for method in entry
        if method != "OPTIONS"
    }
    assert listed == declared
    handlers = set(re.findall(r"^\| [^|]+ \| `(\w+)` \|", table, flags=re.M))
    assert handlers == set(deploy.HANDLERS)
