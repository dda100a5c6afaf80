"""What the console learns about a deployed stage, and the clear error when there is none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devstack.console import ConsoleConfig, StageNotDeployed, deployed_config


def _chalice_dir(tmp_path: Path, env: dict[str, str], resources: list[dict[str, str]] | None) -> Path:
    (tmp_path / "config.json").write_text(json.dumps({"stages": {"dev": {"environment_variables": env}}}))
    if resources is not None:
        (tmp_path / "deployed").mkdir()
        (tmp_path / "deployed" / "dev.json").write_text(json.dumps({"resources": resources}))
    return tmp_path


DEPLOYED_ENV = {"COGNITO_USER_POOL_ID": "eu-west-1_AbC123", "COGNITO_APP_CLIENT_ID": "4k2client"}
REST_API = {
    "resource_type": "rest_api",
    "rest_api_url": "https://abc.execute-api.eu-west-1.amazonaws.com/api/",
}


def test_a_deployed_stage_gives_its_api_url_pool_region_and_client(tmp_path: Path) -> None:
    config = deployed_config("dev", _chalice_dir(tmp_path, DEPLOYED_ENV, [REST_API]))
    assert config == ConsoleConfig(
        stage="dev",
        api_url="https://abc.execute-api.eu-west-1.amazonaws.com/api",
        cognito_endpoint="https://cognito-idp.eu-west-1.amazonaws.com",
        region="eu-west-1",
        client_id="4k2client",
    )
    policy = config.content_security_policy()
    assert "connect-src https://abc.execute-api.eu-west-1.amazonaws.com https://cognito-idp" in policy


def test_a_stage_never_deployed_says_how_to_deploy_it(tmp_path: Path) -> None:
    with pytest.raises(StageNotDeployed, match=r"not deployed .*make deploy STAGE=dev"):
        deployed_config("dev", _chalice_dir(tmp_path, DEPLOYED_ENV, None))


def test_a_stage_with_placeholder_pool_or_client_is_not_deployed(tmp_path: Path) -> None:
    placeholders = {
        "COGNITO_USER_POOL_ID": "us-east-1_devplaceholder",
        "COGNITO_APP_CLIENT_ID": "replace-at-deploy",
    }
    with pytest.raises(StageNotDeployed, match="make deploy STAGE=dev"):
        deployed_config("dev", _chalice_dir(tmp_path, placeholders, [REST_API]))


def test_the_generated_config_script_sets_one_global(tmp_path: Path) -> None:
    script = ConsoleConfig(
        "local", "http://127.0.0.1:8000", "http://127.0.0.1:4566", "us-east-1", "c1"
    ).script()
    name, _, value = script.decode().partition(" = ")
    assert name == "window.PEOPLE_CONSOLE_CONFIG"
    assert json.loads(value.rstrip(";\n"))["client_id"] == "c1"
