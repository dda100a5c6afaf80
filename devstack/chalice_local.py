"""`chalice local`, with API Gateway's gateway responses applied to its own answers.

Deployed, API Gateway answers some requests itself (no token: 401, unknown route: 403) and
`make deploy` reshapes those answers into problem+json with gateway responses
(infra/gateway-responses.json). chalice local plays API Gateway here, so the same table is
applied to its answers. Everything else is plain `chalice local`: same CLI, same arguments.

Usage: python -m devstack.chalice_local local --stage local --no-autoreload [--host H --port P]
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
from typing import Any

from chalice import local
from chalice.cli import main as chalice_main
from chalice.cli.factory import CLIFactory

from chalicelib.config import cors_allowed_origins
from chalicelib.web.cors import cors_headers
from chalicelib.web.problems import PROBLEM, encode, gateway_problem, problem_headers
from devstack import ROOT

LISTEN_BACKLOG = 128
_RESPONSES: dict[str, dict[str, Any]] = json.loads((ROOT / "infra" / "gateway-responses.json").read_text())


def gateway_response_type(error: local.LocalGatewayException) -> str:
    """Which API Gateway gateway response a chalice local error corresponds to."""
    body = error.body or b""
    if isinstance(error, local.NotAuthorizedError):
        return "UNAUTHORIZED"
    if isinstance(error, local.InvalidAuthorizerError):
        return "AUTHORIZER_CONFIGURATION_ERROR"
    if isinstance(error, local.ForbiddenError) and (
        b"Missing Authentication Token" in body or b"requires 'Credential'" in body
    ):
        return "MISSING_AUTHENTICATION_TOKEN"
    if isinstance(error, local.ForbiddenError):
        return "ACCESS_DENIED"
    return "DEFAULT_5XX" if error.CODE >= 500 else "DEFAULT_4XX"


def as_problem(error: local.LocalGatewayException) -> tuple[int, dict[str, str], bytes]:
    """The status, headers and body the deployed gateway would send for this error."""
    headers = dict(error.headers or {})
    if headers.get("Content-Type") == PROBLEM:
        return error.CODE, headers, error.body or b""  # already shaped (our local authorizer)
    problem = gateway_problem(_RESPONSES[gateway_response_type(error)], error.CODE)
    status = problem.status if isinstance(problem.status, int) else error.CODE
    return status, {**headers, **problem_headers(status)}, encode(problem)


class GatewayResponseHandler(local.ChaliceRequestHandler):
    """chalice local's request handler with gateway responses applied."""

    def __getattr__(self, name: str) -> Any:
        # http.server answers a method without a do_* handler (TRACE, QUERY, ...) with its own
        # HTML 501; hand it to the app, which answers 405 problem+json with Allow like API Gateway.
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    def _send_error_response(self, error: local.LocalGatewayException) -> None:
        status, headers, body = as_problem(error)
        # Deployed, the gateway responses carry CORS headers too (infra/deploy.py).
        headers.update(cors_headers(self.headers.get("Origin"), cors_allowed_origins()))
        self._send_http_response(status, headers, body)


def isolate_requests(app_obj: Any) -> None:
    """Give each of chalice local's request threads its own `current_request` and `lambda_context`.

    Chalice keeps both as plain attributes of the app: right for Lambda (one request per
    process at a time), but chalice local serves each connection on its own thread, so two
    concurrent requests would read each other's body, headers and caller identity.
    """
    state = threading.local()

    def slot(name: str) -> property:
        return property(
            lambda self: getattr(state, name, None),
            lambda self, value: setattr(state, name, value),
        )

    cls = type(app_obj)
    app_obj.__class__ = type(
        cls.__name__,
        (cls,),
        {"current_request": slot("current_request"), "lambda_context": slot("lambda_context")},
    )


# The console's origin when the local stack serves it on another port (PEOPLE_CONSOLE_PORT).
# chalice local exports the stage's config.json values over the caller's environment, so it
# is put back once the app is loaded (settings are read on the first request, after this).
_CALLER_ORIGINS = os.environ.get("CORS_ALLOWED_ORIGINS")


def _create_local_server(
    self: CLIFactory, app_obj: Any, config: Any, host: str, port: int
) -> local.LocalDevServer:
    if _CALLER_ORIGINS is not None:
        os.environ["CORS_ALLOWED_ORIGINS"] = _CALLER_ORIGINS
    isolate_requests(app_obj)
    server = local.create_local_server(app_obj, config, host, port)
    server.server.RequestHandlerClass = functools.partial(
        GatewayResponseHandler, app_object=server.app_object, config=config
    )
    # http.server listens with a backlog of 5, so a burst of clients (API Gateway queues them)
    # would see connections reset; listening again on Linux just raises the backlog.
    server.server.socket.listen(LISTEN_BACKLOG)
    return server


def main(argv: list[str]) -> int:
    CLIFactory.create_local_server = _create_local_server  # type: ignore[method-assign]
    sys.argv = ["chalice", "--project-dir", str(ROOT), *argv]
    return int(chalice_main() or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
