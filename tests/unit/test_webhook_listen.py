"""The local webhook receiver: verifies real deliveries with the standardwebhooks library and prints them."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest

from chalicelib import outbound
from chalicelib.webhooks import signing
from devstack import webhook_listen

LOCAL = outbound.Policy(allow_loopback=True)
EVENT = {"type": "people.person.created", "data": {"name": "Ada Lovelace"}}
BODY = json.dumps(EVENT, separators=(",", ":")).encode()


@contextmanager
def listening(secrets: Sequence[str], status: int = 204) -> Iterator[tuple[str, io.StringIO, io.StringIO]]:
    out, err = io.StringIO(), io.StringIO()
    server = webhook_listen.make_server(secrets, 0, status=status, out=out, err=err)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", out, err
    finally:
        server.shutdown()
        server.server_close()


def send(url: str, secrets: Sequence[str], message_id: str = "msg_listen1") -> outbound.Result:
    headers = signing.webhook_headers(secrets, message_id, int(time.time()), BODY)
    return outbound.post_json(url, BODY, headers, LOCAL)


def test_a_signed_delivery_is_verified_and_printed() -> None:
    secret = signing.generate_secret()
    with listening([secret]) as (url, out, err):
        result = send(url, [secret])
    assert result.status == 204
    assert "msg_listen1  people.person.created  (verified)" in out.getvalue()
    assert "Ada Lovelace" in out.getvalue()
    assert err.getvalue() == ""


def test_a_delivery_signed_with_another_secret_is_rejected() -> None:
    with listening([signing.generate_secret()]) as (url, out, err):
        result = send(url, [signing.generate_secret()])
    assert result.status == 401
    assert out.getvalue() == ""
    assert "rejected msg_listen1" in err.getvalue()


def test_during_a_rotation_a_receiver_with_either_secret_accepts() -> None:
    old, new = signing.generate_secret(), signing.generate_secret()
    for known in ([old], [new]):
        with listening(known) as (url, _, _):
            assert send(url, [new, old]).status == 204


def test_the_listener_can_answer_with_a_failure_to_show_retries() -> None:
    secret = signing.generate_secret()
    with listening([secret], status=500) as (url, out, _):
        assert send(url, [secret]).status == 500
    assert "(verified)" in out.getvalue()


def test_the_listener_needs_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        webhook_listen.main([])
    assert exit_info.value.code == 2
    assert webhook_listen.main(["--secret", "whsec_!!", "--port", "0"]) == 1
