"""Create what the app needs inside the emulator: the table and the Cognito user pool."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import boto3

from devstack import REGION, aws_environment, stage_environment

POOL_NAME = "people-local"
CLIENT_NAME = "people-local-cli"
ADMIN_GROUP = "admins"


@dataclass(frozen=True)
class StackInfo:
    endpoint: str
    region: str
    table_name: str
    user_pool_id: str
    app_client_id: str

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint}/{self.user_pool_id}/.well-known/jwks.json"

    def app_environment(self) -> dict[str, str]:
        """What chalice local needs on top of the stage's config.json values."""
        return {
            **aws_environment(self.endpoint),
            "COGNITO_USER_POOL_ID": self.user_pool_id,
            "COGNITO_APP_CLIENT_ID": self.app_client_id,
            "COGNITO_JWKS_URL": self.jwks_url,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def client(service: str, endpoint: str) -> Any:
    env = aws_environment(endpoint)
    return boto3.client(  # type: ignore[no-untyped-call]
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
    )


def create_table(endpoint: str, table_name: str) -> None:
    """Create the table from the PynamoDB models (keys, index, stream, TTL)."""
    os.environ.update(aws_environment(endpoint))
    from chalicelib import models
    from chalicelib.config import load_settings

    settings = load_settings(
        {
            **stage_environment(),
            "TABLE_NAME": table_name,
            "COGNITO_USER_POOL_ID": "-",
            "COGNITO_APP_CLIENT_ID": "-",
        }
    )
    models.bind(settings)
    models.PersonModel.create_table(wait=True, billing_mode="PAY_PER_REQUEST")


def create_user_pool(endpoint: str) -> tuple[str, str]:
    """A pool that signs users in by email, an app client for USER_PASSWORD_AUTH, the admins group."""
    cognito = client("cognito-idp", endpoint)
    pool_id = cognito.create_user_pool(
        PoolName=POOL_NAME,
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        Policies={
            "PasswordPolicy": {
                "MinimumLength": 12,
                "RequireUppercase": True,
                "RequireLowercase": True,
                "RequireNumbers": True,
                "RequireSymbols": False,
            }
        },
    )["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=CLIENT_NAME,
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    cognito.create_group(UserPoolId=pool_id, GroupName=ADMIN_GROUP)
    return pool_id, client_id


def provision(endpoint: str, table_name: str | None = None) -> StackInfo:
    """Provision a fresh emulator and describe what was created."""
    table_name = table_name or stage_environment()["TABLE_NAME"]
    create_table(endpoint, table_name)
    pool_id, client_id = create_user_pool(endpoint)
    return StackInfo(endpoint, REGION, table_name, pool_id, client_id)
