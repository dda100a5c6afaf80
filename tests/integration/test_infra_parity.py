"""One source of truth: the template's table and pool match what the local stack provisions."""

from __future__ import annotations

import os
from typing import Any

import pytest
from cfnlint.decode import decode_str

from devstack import ROOT
from devstack.provision import StackInfo, client
from infra import deploy
from tests.integration.test_deploy import aws, emulator_template  # noqa: F401  (fixture)


def table_shape(description: dict[str, Any]) -> dict[str, Any]:
    return {
        "keys": description["KeySchema"],
        "attributes": sorted(description["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
        "indexes": sorted(
            (i["IndexName"], tuple(map(str, i["KeySchema"])), i["Projection"]["ProjectionType"])
            for i in description.get("GlobalSecondaryIndexes", [])
        ),
        "billing": description["BillingModeSummary"]["BillingMode"],
    }


@pytest.fixture
def local_table(stack: StackInfo) -> dict[str, Any]:
    """Described before the in-process emulator starts (it would intercept the call)."""
    table: dict[str, Any] = client("dynamodb", stack.endpoint).describe_table(TableName=stack.table_name)[
        "Table"
    ]
    return table


def test_template_table_matches_the_local_stacks_table(
    local_table: dict[str, Any],
    aws: Any,  # noqa: F811
) -> None:
    local = local_table
    deploy.ensure_stack(aws.client("cloudformation"), "dev", emulator_template())
    deployed = aws.client("dynamodb").describe_table(TableName="people-api-dev")["Table"]
    assert table_shape(deployed) == table_shape(local)
    assert deployed["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"


def test_template_pool_matches_the_local_stacks_pool(stack: StackInfo) -> None:
    template, _ = decode_str((ROOT / "infra" / "template.yaml").read_text())
    resources = template["Resources"]
    pool = client("cognito-idp", stack.endpoint).describe_user_pool(UserPoolId=stack.user_pool_id)["UserPool"]
    local_policy = pool["Policies"]["PasswordPolicy"]
    for key, value in resources["UserPool"]["Properties"]["Policies"]["PasswordPolicy"].items():
        if key != "TemporaryPasswordValidityDays":
            assert local_policy[key] == value, key
    assert pool["UsernameAttributes"] == resources["UserPool"]["Properties"]["UsernameAttributes"]
    app_client = client("cognito-idp", stack.endpoint).describe_user_pool_client(
        UserPoolId=stack.user_pool_id, ClientId=stack.app_client_id
    )["UserPoolClient"]
    expected_flows = resources["AppClient"]["Properties"]["ExplicitAuthFlows"]
    assert sorted(app_client["ExplicitAuthFlows"]) == sorted(expected_flows)
    assert "ClientSecret" not in app_client
    groups = client("cognito-idp", stack.endpoint).list_groups(UserPoolId=stack.user_pool_id)["Groups"]
    assert [g["GroupName"] for g in groups] == [resources["AdminsGroup"]["Properties"]["GroupName"]]


def test_local_stack_runs_against_the_table_the_template_created(
    aws: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The app's repository works unchanged on the template's table."""
    from chalicelib.adapters import models
    from chalicelib.adapters.people import PynamoPeopleRepository
    from chalicelib.config import load_settings
    from chalicelib.domain import Person

    outputs = deploy.ensure_stack(aws.client("cloudformation"), "dev", emulator_template())
    settings = load_settings(
        {"TABLE_NAME": outputs["TableName"], "CURSOR_SECRET": "k", "AWS_REGION": aws.region_name}
    )
    models.bind(settings)
    try:
        from pynamodb.connection import Connection

        connection = Connection(region=aws.region_name)
        repo = PynamoPeopleRepository(
            connection.client,
            outputs["TableName"],
            connection=lambda: connection,
            bind_models=lambda: None,
            tombstone_days=90,
        )
        now = "2026-01-01T00:00:00+00:00"
        person = Person(id="01J0000000000000000000000A", owner="u", name="Ada", email=None, phone=None,
                        notes=None, tags=(), created_at=now, updated_at=now, version=1)  # fmt: skip
        repo.add(person, actor="u")
        assert repo.get(person.id) == person
        assert [p.id for p in repo.list_by_owner("u", limit=5, after=None).items] == [person.id]
    finally:
        from devstack import stage_environment

        models.bind(load_settings({**stage_environment(), **os.environ}))
