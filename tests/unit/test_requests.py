from __future__ import annotations

import pytest
from chalice.app import Request

from chalicelib import errors
from chalicelib.web.requests import read_json_object


def request(body: bytes | None, content_type: str | None = "application/json") -> Request:
    headers = {"content-type": content_type} if content_type else {}
    event = {
        "multiValueQueryStringParameters": None,
        "headers": headers,
        "pathParameters": {},
        "requestContext": {"httpMethod": "POST", "resourcePath": "/people"},
        "body": body,
        "stageVariables": {},
    }
    return Request(event)


def test_read_json_object_checks_size_type_and_syntax() -> None:
    assert read_json_object(request(b'{"name": "A"}')) == {"name": "A"}
    assert read_json_object(request(b'{"a": 1}', "application/json; charset=utf-8")) == {"a": 1}
    with pytest.raises(errors.UnsupportedMediaType):
        read_json_object(request(b'{"a": 1}', "text/plain"))
    with pytest.raises(errors.UnsupportedMediaType):
        read_json_object(request(b'{"a": 1}', None))
    with pytest.raises(errors.MalformedRequest):
        read_json_object(request(b'{"a": '))
    with pytest.raises(errors.MalformedRequest):
        read_json_object(request(b""))
    with pytest.raises(errors.PayloadTooLarge):
        read_json_object(request(b" " * (64 * 1024 + 1)))
    with pytest.raises(errors.ValidationFailed):
        read_json_object(request(b"[1, 2]"))
