"""Run the real `make deploy` / `make destroy` against an emulator this process starts.

The project is copied to a temporary directory first (with a link to this checkout's
virtualenv), so the deploy writes only the copy's `.chalice/`. The two gaps of the emulator
are closed as a user of a pool made elsewhere, or by the emulator itself:
- its CloudFormation has no Cognito resources: the pool, admins group and app client are made
  through the cognito-idp API and handed in (`make deploy USER_POOL_ID=... APP_CLIENT_ID=...`);
- its ImportRestApi refuses Swagger 2.0: devstack/emulator.py accepts it and records the document.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack import FAKE_CREDENTIALS, ROOT

# A region no other test uses: every moto server of one process shares its backends.
REGION = "eu-central-2"
STAGE = "dev"
GITHUB_REPOSITORY = "example-org/people-api"


@dataclass(frozen=True)
class Deployment:
    endpoint: str
    project: Path
    pool_id: str
    pool_arn: str
    app_client_id: str

    def environment(self) -> dict[str, str]:
        keep = ("PATH", "HOME", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CACHE_DIR", "SSL_CERT_FILE")
        return {
            **{k: os.environ[k] for k in keep if k in os.environ},
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        )

    def make(self, target: str, *extra: str) -> subprocess.CompletedProcess[str]:
        """`make <target> STAGE=dev ...` in the project copy; fails the caller on error."""
        args = ["make", "--no-print-directory", "-C", str(self.project), target, f"STAGE={STAGE}", *extra]
        args.append(f"PYTHON={sys.executable}")  # the linked virtualenv's: make must not rebuild it
        result = subprocess.run(args, env=self.environment(), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def deploy(self) -> subprocess.CompletedProcess[str]:
        return self.make(
            "deploy",
            f"USER_POOL_ID={self.pool_id}",
            f"APP_CLIENT_ID={self.app_client_id}",
            f"DEPLOY_FROM_GITHUB={GITHUB_REPOSITORY}",
        )


def project_copy(target: Path) -> Path:
    """The checkout's files (tracked, and new ones not ignored) with a link to its virtualenv."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if not source.is_file():
            continue  # deleted in the working tree
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name)  # keeps mtimes: make sees the venv as up to date
    (target / ".venv").symlink_to(ROOT / ".venv")
    return target


def user_pool(cognito: Any) -> tuple[str, str, str]:
    """A pool shaped like the template's (id, ARN, app client id)."""
    pool = cognito.create_user_pool(
        PoolName=f"people-api-{STAGE}",
        UsernameAttributes=["email"],
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
    )["UserPool"]
    app_client = cognito.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName=f"people-api-{STAGE}-client", GenerateSecret=False
    )["UserPoolClient"]
    return pool["Id"], pool["Arn"], app_client["ClientId"]


def resolve(value: Any, known: Mapping[str, str], exports: Mapping[str, str]) -> Any:
    """A CloudFormation value with its intrinsic functions evaluated, as the service would:
    Fn::Sub (its own variables, else `known`: pseudo parameters, `Logical` for Ref and
    `Logical.Attribute` for GetAtt), Fn::ImportValue (from `exports`), Ref and Fn::GetAtt."""
    if isinstance(value, list):
        return [resolve(item, known, exports) for item in value]
    if not isinstance(value, dict):
        return value
    if list(value) == ["Fn::ImportValue"]:
        return exports[value["Fn::ImportValue"]]
    if list(value) == ["Ref"]:
        return known[value["Ref"]]
    if list(value) == ["Fn::GetAtt"]:
        return known[".".join(value["Fn::GetAtt"])]
    if list(value) == ["Fn::Sub"]:
        sub = value["Fn::Sub"]
        text, variables = (sub, {}) if isinstance(sub, str) else sub
        names = {**known, **{k: resolve(v, known, exports) for k, v in variables.items()}}
        return re.sub(r"\$\{([\w:.]+)\}", lambda m: str(names[m.group(1)]), text)
    return {key: resolve(item, known, exports) for key, item in value.items()}


def pseudo_parameters(arn: str) -> dict[str, str]:
    """CloudFormation's pseudo parameters where the resource with this ARN lives."""
    partition, _, region, account = arn.split(":")[1:5]
    return {"AWS::Partition": partition, "AWS::Region": region, "AWS::AccountId": account}


def packaged_resources(template: Mapping[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """The properties of each resource of a type, by logical id."""
    return {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }
