"""The browser console (console/) on its own loopback origin, as a browser on a separate host sees it.

The files are static; what the console must know about its stack (the API's URL, the Cognito
endpoint and app client) it reads from `/config.js`, which this server generates: locally
from the running stack, for `make console STAGE=dev` from the deployed stage. Nothing is
written into console/, so several stacks can serve it at once.
"""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import asdict, dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from devstack import ROOT

CONSOLE_DIR = ROOT / "console"
DEFAULT_PORT = 8001
HOST = "127.0.0.1"


@dataclass(frozen=True)
class ConsoleConfig:
    """What the console needs to sign in and call the API."""

    stage: str
    api_url: str
    cognito_endpoint: str
    region: str
    client_id: str

    def script(self) -> bytes:
        return f"window.PEOPLE_CONSOLE_CONFIG = {json.dumps(asdict(self))};\n".encode()

    def content_security_policy(self) -> str:
        # The page may talk to the API and to Cognito, and load nothing from anywhere else.
        return (
            "default-src 'self'; "
            f"connect-src {_origin_of(self.api_url)} {_origin_of(self.cognito_endpoint)}; "
            "img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class ConsoleHandler(SimpleHTTPRequestHandler):
    """console/ as static files, plus the generated /config.js; GET and HEAD only."""

    def __init__(self, *args: Any, config: ConsoleConfig, **kwargs: Any) -> None:
        self.config = config
        super().__init__(*args, directory=str(CONSOLE_DIR), **kwargs)

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", self.config.content_security_policy())
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/config.js":
            body = self.config.script()
            self.send_response(200)
            self.send_header("Content-Type", "text/javascript; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def list_directory(self, path: str | Path) -> None:  # type: ignore[override]
        self.send_error(404, "Not found")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # static files: the API's request log is the one worth reading


class ConsoleServer:
    """The console's static server on a daemon thread."""

    def __init__(self, config: ConsoleConfig, port: int = DEFAULT_PORT) -> None:
        handler = functools.partial(ConsoleHandler, config=config)
        self._server = ThreadingHTTPServer((HOST, port), handler)
        self._server.daemon_threads = True
        self.url = f"http://{HOST}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="console", daemon=True)

    def start(self) -> ConsoleServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def origin(port: int) -> str:
    """The console's origin: what the API must grant CORS to."""
    return f"http://{HOST}:{port}"


class StageNotDeployed(RuntimeError):
    """The stage has no API or user pool yet."""


def deployed_config(stage: str, chalice_dir: Path = ROOT / ".chalice") -> ConsoleConfig:
    """The console's settings for a deployed stage: its API URL, user pool and app client."""
    deployed = chalice_dir / "deployed" / f"{stage}.json"
    hint = f"deploy it first with `make deploy STAGE={stage}`"
    try:
        resources = json.loads(deployed.read_text())["resources"]
    except FileNotFoundError:
        raise StageNotDeployed(
            f"stage {stage!r} is not deployed ({deployed.name} not found): {hint}"
        ) from None
    urls = [r["rest_api_url"] for r in resources if r.get("resource_type") == "rest_api"]
    stages = json.loads((chalice_dir / "config.json").read_text())["stages"]
    env = stages.get(stage, {}).get("environment_variables", {})
    pool_id, client_id = env.get("COGNITO_USER_POOL_ID", ""), env.get("COGNITO_APP_CLIENT_ID", "")
    if not urls or "_" not in pool_id or "placeholder" in pool_id or client_id in ("", "replace-at-deploy"):
        raise StageNotDeployed(f"stage {stage!r} has no API URL, user pool or app client yet: {hint}")
    region = pool_id.split("_", 1)[0]
    return ConsoleConfig(
        stage=stage,
        api_url=str(urls[0]).rstrip("/"),
        cognito_endpoint=f"https://cognito-idp.{region}.amazonaws.com",
        region=region,
        client_id=client_id,
    )
