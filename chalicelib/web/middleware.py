"""What wraps every route: errors leave as problem+json, and each request logs one JSON line."""

from __future__ import annotations

import functools
import logging
import time
import traceback
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from chalice.app import Request, Response

from chalicelib import errors
from chalicelib.logs import log, log_json
from chalicelib.web.problems import Problem, internal_error, problem_for, problem_response


def api_view(
    request_id: Callable[[], str | None],
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Wrap a route so every error leaves as problem+json and never as a traceback."""

    def decorate(view: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            try:
                return view(*args, **kwargs)
            except errors.PeopleApiError as exc:
                return problem_for(exc, request_id())
            except Exception as exc:
                rid = request_id()
                # One JSON record, traceback included as a field, so the log stays one line each.
                log_json(
                    logging.ERROR,
                    "unhandled_error",
                    request_id=rid,
                    view=view.__name__,
                    error=type(exc).__name__,
                    traceback=traceback.format_exc(),
                )
                return internal_error(rid)

        return wrapper

    return decorate


# The errors Chalice answers by itself, before or around our views, as {Code, Message}.
_CHALICE_ERRORS: dict[str, type[errors.PeopleApiError]] = {
    "MethodNotAllowedError": errors.MethodNotAllowed,
    "UnsupportedMediaType": errors.UnsupportedMediaType,
    "BadRequest": errors.MalformedRequest,
    "BadRequestError": errors.MalformedRequest,
}


def _chalice_error_to_problem(response: Response, request_id: str | None) -> Response:
    """Chalice answers some requests itself (405, 415, 500) with {Code, Message}; reshape them.

    They get the same problem types and titles as our own errors (never a class name as the
    title); a 500 is the app's own internal error answer, with a request id to quote.
    """
    body = response.body
    if not (isinstance(body, dict) and "Code" in body and "Message" in body):
        return response
    status = response.status_code
    kind = _CHALICE_ERRORS.get(str(body["Code"]))
    allow = {k: v for k, v in response.headers.items() if k.lower() == "allow"}
    if kind is not None:
        shaped = problem_for(kind(str(body["Message"])), request_id)
        shaped.headers.update(allow)
        return shaped
    if status >= 500:
        return internal_error(request_id)
    # Chalice's view errors (NotFoundError, ...): the status's own phrase as the title.
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    problem = Problem(type="about:blank", title=title, status=status, detail=str(body["Message"]))
    return problem_response(problem, allow)


def log_and_shape(
    request: Request, get_response: Callable[[Request], Response], request_id: str | None
) -> Response:
    """Middleware body: one structured log line per request, and problem+json for Chalice's own errors."""
    started = time.perf_counter()
    response = _chalice_error_to_problem(get_response(request), request_id)
    if not log.isEnabledFor(logging.INFO):
        return response  # nobody would read the line: skip building it on the hot path
    context = request.context or {}
    claims = (context.get("authorizer") or {}).get("claims") or {}
    log_json(
        logging.INFO,
        "request",
        request_id=request_id,
        method=request.method,
        route=context.get("resourcePath"),
        status=response.status_code,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
        sub=claims.get("sub"),
    )
    return response
