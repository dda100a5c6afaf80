"""Run the real `make deploy` / `make destroy` against an emulator this process starts.

The project is copied to a temporary directory first (with a link to this checkout's
virtualenv), so the deploy writes only the copy's `.chalice/`. The two gaps of the emulator
are closed as a user of a pool made elsewhere, or by the emulator itself:
- its CloudFormation has no Cognito resources: the pool, admins group and app client are made
  through the cognito-idp API and handed in (`make deploy USER_POOL_ID=... APP_CLIENT_ID=...`);
- its ImportRestApi refuses Swagger 2.0: devstack/emulator.py accepts it and records the document.
The emulator runs no function (that needs Docker): what it would hand them is recorded
(`invocations_recorded`), and the deployed code is run as Lambda would run it (`LambdaProcess`).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Mapping
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
    # What the first `make deploy` printed on stdout (the API URL and the smoke test).
    printed: str = ""

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


# --- the deployed code, run as Lambda runs it --------------------------------------------

# Lambda's Python runtime, reduced to what a function sees: the handler named in _HANDLER,
# imported from the task root (the unzipped package) with the runtime's SDK beside it, then
# called once per event in the same process (one cold start, warm invocations after it). What
# the function prints goes to stderr (Lambda sends both streams to the log); each answer is one
# JSON line on the original stdout, with the files of every module loaded so far outside the
# standard library.
LAMBDA_BOOTSTRAP = r"""
import importlib, json, logging, os, sys, sysconfig, time, traceback, uuid

answers = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr
# As the runtime does: a handler on the root logger writes every record that reaches it.
log_handler = logging.StreamHandler(sys.stderr)
log_handler.setFormatter(logging.Formatter("[%(levelname)s]\t%(asctime)s\t%(message)s"))
logging.getLogger().addHandler(log_handler)
function_arn, timeout = sys.argv[1], float(sys.argv[2])
stdlib = tuple(sysconfig.get_paths()[k] + os.sep for k in ("stdlib", "platstdlib"))


class Context:
    def __init__(self):
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def loaded():
    files = {getattr(m, "__file__", None) for m in list(sys.modules.values())}
    return sorted(f for f in files if f and (not f.startswith(stdlib) or "site-packages" in f))


try:
    module, _, name = os.environ["_HANDLER"].rpartition(".")
    handler, init_error = getattr(importlib.import_module(module), name), None
except Exception:
    handler, init_error = None, traceback.format_exc()
for line in sys.stdin:
    event = json.loads(line)
    answer = {"error": init_error}
    if handler is not None:
        try:
            answer = {"result": handler(event, Context())}
        except Exception:
            answer = {"error": traceback.format_exc()}
    answer["files"] = loaded()
    answers.write(json.dumps(answer) + "\n")
    answers.flush()
"""


def uploaded_code(deployment: Deployment, configuration: Mapping[str, Any]) -> bytes:
    """The zip the deploy uploaded for a function, as the emulator (in this process) holds it.

    get_function's Code.Location names an S3 object the emulator does not serve, so the bytes
    are read from its Lambda backend; they must hash to the CodeSha256 the Lambda API reports.
    """
    import base64
    import hashlib

    from moto.awslambda.utils import get_backend

    region, account = configuration["FunctionArn"].split(":")[3:5]
    code: bytes = get_backend(account, region).get_function(configuration["FunctionName"]).code_bytes
    assert base64.b64encode(hashlib.sha256(code).digest()).decode() == configuration["CodeSha256"]
    assert len(code) == configuration["CodeSize"]
    return code


def runtime_interpreter(runtime: str) -> str:
    """The Python of the function's runtime: Chalice deploys on the Python it runs under."""
    assert runtime == "python{}.{}".format(*sys.version_info[:2]), runtime
    return sys.executable


class LambdaProcess:
    """One execution environment of a deployed function: its package, the runtime's SDK, its
    deployed configuration (handler, runtime, environment, memory, timeout) and the emulator's
    endpoint with fake credentials; nothing from this checkout or this test process."""

    def __init__(self, configuration: Mapping[str, Any], task_root: Path, sdk: Path, endpoint: str) -> None:
        name = configuration["FunctionName"]
        region = configuration["FunctionArn"].split(":")[3]
        self.task_root, self.sdk = task_root, sdk
        self.timeout = float(configuration["Timeout"])
        self.loaded: list[str] = []
        home = task_root.parent / "home"
        home.mkdir(exist_ok=True)
        env = {
            **configuration.get("Environment", {}).get("Variables", {}),
            # What Lambda sets (reserved: a function's own variables cannot change them) ...
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "_HANDLER": configuration["Handler"],
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{configuration['Runtime']}",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(configuration["MemorySize"]),
            "AWS_LAMBDA_FUNCTION_VERSION": configuration["Version"],
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]deploytest",
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_RUNTIME_DIR": str(sdk),
            "PYTHONPATH": f"{task_root}{os.pathsep}{sdk}",
            # ... the role's credentials (fake: the emulator's), and the emulator instead of AWS.
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
            # No shared AWS configuration of this machine's user.
            "HOME": str(home),
            "AWS_CONFIG_FILE": str(home / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        }
        self.log = (task_root.parent / "function.log").open("w+")
        self.process = subprocess.Popen(
            # -S: no site-packages; only the package, the SDK and the standard library import.
            [runtime_interpreter(configuration["Runtime"]), "-S", "-c", LAMBDA_BOOTSTRAP,
             configuration["FunctionArn"], str(self.timeout)],
            cwd=task_root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )  # fmt: skip

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def invoke(self, event: Mapping[str, Any]) -> Any:
        """The handler's result for one event; fails the caller with the function's log if it
        raised, or gave no answer within its deployed timeout (Lambda would stop it)."""
        import select

        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(event) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], self.timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            ended = self.process.poll()
            why = f"it exited ({ended})" if ended is not None else f"no answer within {self.timeout:g} s"
            raise AssertionError(f"{why}; the function's log:\n{self.output()}")
        answer = json.loads(line)
        self.loaded = answer["files"]
        if "result" not in answer:
            raise AssertionError(f"the handler raised:\n{answer['error']}\nits log:\n{self.output()}")
        return answer["result"]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def deployed_function(deployment: Deployment, name: str, target: Path, sdk: Path) -> LambdaProcess:
    """The function as deployed: the uploaded zip unpacked into `target`, started with its
    deployed configuration."""
    configuration = deployment.client("lambda").get_function_configuration(FunctionName=name)
    task_root = target / "task"
    zipfile.ZipFile(io.BytesIO(uploaded_code(deployment, configuration))).extractall(task_root)
    return LambdaProcess(configuration, task_root, sdk, deployment.endpoint)


# --- API Gateway, as far as the emulator records it -------------------------------------


@dataclass(frozen=True)
class DeployedApi:
    """The REST API the deploy created (from the emulator), turning requests into the proxy
    events API Gateway would send the function: the route is resolved against the deployed
    resources and methods, and a signed-in caller's claims are handed over as its Cognito
    authorizer hands them (every value a string)."""

    api_id: str
    stage: str
    region: str
    account: str
    routes: dict[str, tuple[str, frozenset[str]]]  # resource path -> (resource id, methods)

    @classmethod
    def read(cls, deployment: Deployment, api_id: str, stage: str, account: str) -> DeployedApi:
        apigateway = deployment.client("apigateway")
        items = apigateway.get_resources(restApiId=api_id, limit=500)["items"]
        routes = {r["path"]: (r["id"], frozenset(r.get("resourceMethods", {}))) for r in items}
        apigateway.get_stage(restApiId=api_id, stageName=stage)  # the stage exists
        return cls(api_id, stage, REGION, account, routes)

    @property
    def domain(self) -> str:
        return f"{self.api_id}.execute-api.{self.region}.amazonaws.com"

    @property
    def url(self) -> str:
        return f"https://{self.domain}/{self.stage}"

    def route(self, method: str, path: str) -> tuple[str, str, dict[str, str]]:
        """(resource path, resource id, path parameters) of the deployed resource a request
        goes to; literal resources win over parameters, as in API Gateway."""
        candidates = []
        for template, (resource_id, methods) in self.routes.items():
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            match = re.fullmatch(pattern, path)
            if match:
                candidates.append((len(match.groupdict()), template, resource_id, methods, match.groupdict()))
        assert candidates, f"no deployed resource for {path}"
        _, template, resource_id, methods, params = min(candidates, key=lambda c: c[0])
        assert method in methods, f"{method} {template} is not deployed"
        return template, resource_id, params

    def event(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        claims: Mapping[str, str] | None = None,
        token: str = "",
    ) -> dict[str, Any]:
        """The AWS_PROXY event for a request to the deployed stage."""
        import time
        import uuid

        template, resource_id, params = self.route(method, path)
        headers = {
            "Accept": "*/*",
            "Host": self.domain,
            "User-Agent": "curl/8.5.0",
            "X-Forwarded-For": "203.0.113.7",
            "X-Forwarded-Port": "443",
            "X-Forwarded-Proto": "https",
        }
        if token:
            headers["Authorization"] = token
        if body is not None:
            headers["Content-Type"] = "application/json"
        now = time.time()
        context: dict[str, Any] = {
            "resourceId": resource_id,
            "resourcePath": template,
            "httpMethod": method,
            "path": f"/{self.stage}{path}",
            "accountId": self.account,
            "protocol": "HTTP/1.1",
            "stage": self.stage,
            "domainPrefix": self.api_id,
            "domainName": self.domain,
            "apiId": self.api_id,
            "requestId": str(uuid.uuid4()),
            "extendedRequestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(now * 1000),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
        }
        if claims is not None:
            context["authorizer"] = {"claims": dict(claims)}
        return {
            "resource": template,
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": dict(query) if query else None,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": context,
            "body": json.dumps(body) if body is not None else None,
            "isBase64Encoded": False,
        }


def sign_in(deployment: Deployment, email: str, password: str) -> str:
    """A user of the stage's pool, created as `make user` does, signed in: its ID token."""
    cognito = deployment.client("cognito-idp")
    cognito.admin_create_user(
        UserPoolId=deployment.pool_id,
        Username=email,
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(
        UserPoolId=deployment.pool_id, Username=email, Password=password, Permanent=True
    )
    result = cognito.initiate_auth(
        ClientId=deployment.app_client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )
    return str(result["AuthenticationResult"]["IdToken"])


def authorizer_claims(deployment: Deployment, token: str) -> dict[str, str]:
    """What the deployed Cognito authorizer hands the function for a token: it verifies the
    token against the pool's keys, issuer and app client, then passes the claims on with every
    value flattened to a string (times as dates, lists space-separated in brackets)."""
    import time

    import jwt

    keys = jwt.PyJWKClient(f"{deployment.endpoint}/{deployment.pool_id}/.well-known/jwks.json")
    claims = jwt.decode(
        token,
        keys.get_signing_key_from_jwt(token).key,
        algorithms=["RS256"],
        issuer=f"https://cognito-idp.{REGION}.amazonaws.com/{deployment.pool_id}",
        audience=deployment.app_client_id,
    )
    assert claims["token_use"] == "id"

    def flat(name: str, value: Any) -> str:
        if name in ("exp", "iat", "auth_time"):
            return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(value))
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, list):
            return "[" + " ".join(map(str, value)) + "]"
        return str(value)

    return {name: flat(name, value) for name, value in claims.items()}


# What the emulator would have run: (function name, event) for each invocation of a deployed
# function (a table write to the stream function, a message on the topic to its subscribers).
INVOCATIONS: list[tuple[str, dict[str, Any]]] = []


@contextlib.contextmanager
def invocations_recorded() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Record what the emulator hands deployed functions instead of running them.

    moto runs a function in Docker when an event source fires (each write to a table with a
    stream mapping, each message to a topic with Lambda subscribers). There is no Docker here,
    and where there is (CI), it would pull and start images behind every write. The events are
    kept, so a test can run them on the deployed code itself (LambdaProcess). The answer tells
    the emulator the batch is done, as Lambda's does.
    """
    from moto.awslambda.models import LambdaFunction

    invoke = LambdaFunction.invoke

    def record(function: Any, body: str, request_headers: Any, response_headers: Any) -> str:
        INVOCATIONS.append((function.function_name, json.loads(body) if body else {}))
        return json.dumps({"batchItemFailures": []})

    LambdaFunction.invoke = record  # type: ignore[method-assign]
    INVOCATIONS.clear()
    try:
        yield INVOCATIONS
    finally:
        LambdaFunction.invoke = invoke  # type: ignore[method-assign]
