"""A webhook receiver on loopback for local development: verifies each delivery and prints its event.

`make webhook-listen SECRET=whsec_... [LISTEN_PORT=8787]`, or
`python -m devstack.webhook_listen --secret whsec_... [--secret whsec_...] [--port 8787]`.
Register `http://127.0.0.1:8787/` as the endpoint's URL on the local stage. Verification uses
the `standardwebhooks` library from PyPI, as a real receiver would, so what passes here passes
there: a verified delivery is answered 204 and printed; anything else gets a 401 and a line on
stderr saying why. Give `--secret` twice (old and new) to follow a rotation. `--status 500`
answers every delivery with that status instead, to watch retries.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TextIO

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib.webhooks.signing import InvalidSecret, secret_key

HOST = "127.0.0.1"
DEFAULT_PORT = 8787
MAX_BODY_BYTES = 1024 * 1024


def verify(verifiers: Sequence[Webhook], body: bytes, headers: dict[str, str]) -> object:
    """The event, if any secret verifies the delivery; raise WebhookVerificationError otherwise."""
    last = WebhookVerificationError("no secret configured")
    for verifier in verifiers:
        try:
            return verifier.verify(body, headers)
        except WebhookVerificationError as error:
            last = error
    raise last


def make_server(
    secrets: Sequence[str],
    port: int = DEFAULT_PORT,
    *,
    status: int = 204,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> ThreadingHTTPServer:
    """A receiver bound to 127.0.0.1:port (0 for any free port), not yet serving."""
    verifiers = [Webhook(secret) for secret in secrets]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "people-api-webhook-listen"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 <= length <= MAX_BODY_BYTES:
                self._answer(413, f"body of {length} bytes refused")
                return
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                event = verify(verifiers, body, headers)
            except (WebhookVerificationError, ValueError) as error:
                self._answer(401, f"rejected {headers.get('webhook-id', '(no webhook-id)')}: {error}")
                return
            with lock:
                kind = event.get("type", "?") if isinstance(event, dict) else "?"
                print(f"--- {headers['webhook-id']}  {kind}  (verified)", file=out)
                print(json.dumps(event, indent=2, ensure_ascii=False), file=out, flush=True)
            self._answer(status, None)

        def _answer(self, code: int, problem: str | None) -> None:
            if problem is not None:
                with lock:
                    print(problem, file=err, flush=True)
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return ThreadingHTTPServer((HOST, port), Handler)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.webhook_listen", description=__doc__)
    parser.add_argument("--secret", action="append", default=[], help="whsec_... (repeat during a rotation)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--status", type=int, default=204, help="answer verified deliveries with this")
    args = parser.parse_args(argv)
    secrets = [s for s in args.secret if s] or [s for s in os.environ.get("WEBHOOK_SECRET", "").split() if s]
    if not secrets:
        parser.error("give the endpoint's signing secret: --secret whsec_... (or WEBHOOK_SECRET)")
    for secret in secrets:
        try:
            secret_key(secret)
        except InvalidSecret as error:
            print(f"not a signing secret: {error}", file=sys.stderr)
            return 1
    try:
        server = make_server(secrets, args.port, status=args.status)
    except OSError as error:
        print(f"cannot listen on {HOST}:{args.port}: {error}", file=sys.stderr)
        return 1
    print(f"listening on http://{HOST}:{server.server_address[1]}/  (Ctrl-C stops)", flush=True)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Installed explicitly: a shell that starts us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
