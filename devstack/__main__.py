"""Local stack entry point: `python -m devstack run` (make run), `emulator` (make emulator), `token`,
`user` and `console` (make console).

Ports: PEOPLE_API_PORT (default 8000), PEOPLE_EMULATOR_PORT (default 4566), PEOPLE_CONSOLE_PORT
(default 8001, the browser console's origin). Everything listens on 127.0.0.1 only. The
stack's description is written to DEVSTACK_STATE (default .devstack/state.json) while it runs,
so `make token` can find the user pool.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devstack import ROOT

HOST = "127.0.0.1"


def _state_path() -> Path:
    from devstack import state_path

    return state_path()


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        sys.exit(f"{name} must be a port number, not {raw!r}")
    return int(raw)


def _wait_for_health(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chalice local exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"chalice local did not answer {url} within {timeout:.0f}s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _api_banner(api_url: str, endpoint: str, console_url: str) -> str:
    from devstack.tokens import LOCAL_PASSWORD

    return (
        f"\npeople-api is running at {api_url}  (AWS emulator at {endpoint})\n"
        f"  console:       {console_url}\n"
        f"  console user:  make user STAGE=local EMAIL=alice@example.com  (password {LOCAL_PASSWORD})\n"
        f"  get a token:   TOKEN=$(make token USER=alice)\n"
        f'  call the API:  curl -H "Authorization: Bearer $TOKEN" {api_url}/people\n'
        f"  admin token:   make token USER=root GROUP=admins\n"
        f'  history:       curl -H "Authorization: Bearer $TOKEN" {api_url}/people/<id>/history\n'
        "Data lives in memory until you stop the stack. Ctrl-C stops everything.\n"
    )


def _emulator_banner(endpoint: str, state_path: Path) -> str:
    return (
        f"\nthe AWS emulator is running at {endpoint}, provisioned, with the event pump\n"
        f"  serve the API: .venv/bin/chalice local --stage local\n"
        f"                 (from this directory; it finds this stack in {state_path})\n"
        f"  get a token:   TOKEN=$(make token USER=alice)\n"
        "Data lives in memory until you stop it. Ctrl-C stops everything.\n"
    )


def run(*, api: bool = True) -> int:
    """Start emulator, provision, serve chalice local until Ctrl-C or SIGTERM.

    With `api=False` (`make emulator`) only the emulator, its provisioning and the event pump
    run: the API is then whatever `chalice local --stage local` the developer starts, which
    finds this stack through the state file (devstack/local_auth.py).
    """
    from devstack import stage_environment
    from devstack.console import ConsoleConfig, ConsoleServer, origin
    from devstack.emulator import start_emulator
    from devstack.provision import provision
    from devstack.pump import Pump, app_pump

    api_port = _port("PEOPLE_API_PORT", 8000)
    emulator_port = _port("PEOPLE_EMULATOR_PORT", 4566)
    console_port = _port("PEOPLE_CONSOLE_PORT", 8001)
    endpoint = f"http://{HOST}:{emulator_port}"
    state_path = _state_path()

    def _terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # Installed explicitly: a shell that starts us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGINT, _terminate)
    signal.signal(signal.SIGTERM, _terminate)
    emulator = start_emulator(emulator_port)
    proc: subprocess.Popen[bytes] | None = None
    pump: Pump | None = None
    console: ConsoleServer | None = None
    try:
        info = provision(endpoint)
        # The pump runs the stream and SNS handlers here, with the environment chalice local gets.
        os.environ.update({**stage_environment("local"), **info.app_environment()})
        pump = app_pump(info)
        pump.start()
        described: dict[str, Any] = info.to_dict()
        if api:
            env = {
                **os.environ,
                **info.app_environment(),
                # The API grants CORS to the console's origin (config.json names the default port).
                "CORS_ALLOWED_ORIGINS": origin(console_port),
                "PYTHONUNBUFFERED": "1",
            }
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "devstack.chalice_local",
                    "local",
                    "--stage",
                    "local",
                    "--no-autoreload",
                    "--host",
                    HOST,
                    "--port",
                    str(api_port),
                ],
                cwd=ROOT,
                env=env,
                # Its own session: Ctrl-C reaches only us, and we stop it in order.
                start_new_session=True,
            )
            api_url = f"http://{HOST}:{api_port}"
            _wait_for_health(f"{api_url}/health", proc)
            console = ConsoleServer(
                ConsoleConfig("local", api_url, endpoint, info.region, info.app_client_id), console_port
            ).start()
            described.update(api_url=api_url, console_url=console.url)
        state_path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole, then renamed: whoever sees the file can read all of it.
        partial = state_path.with_suffix(".partial")
        partial.write_text(json.dumps(described, indent=2))
        partial.replace(state_path)
        if api:
            assert console is not None
            print(_api_banner(api_url, endpoint, console.url), flush=True)
        else:
            print(_emulator_banner(endpoint, state_path), flush=True)
        # Python runs signal handlers on the main thread only, but the kernel may hand Ctrl-C
        # to any thread (the emulator's, the pump's); a blocking wait() would then never see
        # it. Waking up regularly lets the handler run.
        while proc is None or (code := proc.poll()) is None:
            time.sleep(0.2)
        return code
    except KeyboardInterrupt:
        return 0
    finally:
        if proc is not None:
            _stop(proc)
        if pump is not None:
            pump.stop()
        if console is not None:
            console.stop()
        state_path.unlink(missing_ok=True)
        emulator.stop()


TOKEN_USAGE = (
    "usage: make token USER=<name or email> [GROUP=admins] [STAGE=dev] "
    "(USER= on the command line: the shell's $USER is never used)"
)
USER_USAGE = "usage: make user EMAIL=<email> [GROUP=admins] [STAGE=dev|local]"


def _one_line(command: str, action: Callable[[], str]) -> int:
    """Print the action's result, or its failure as one line on stderr (exit 1)."""
    from devstack.accounts import AccountError

    try:
        print(action())
    except AccountError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, EOFError):
        print(f"\n{command}: cancelled", file=sys.stderr)
        return 1
    return 0


def token(user: str, group: str, stage: str) -> int:
    """Print one line: a fresh ID token (local: created on first use; deployed: password prompted)."""
    import getpass

    from devstack import accounts

    if not user:
        print(TOKEN_USAGE, file=sys.stderr)
        return 2

    def issue() -> str:
        if stage == "local":
            return accounts.local_token(accounts.local_stack_info(_state_path()), user, group or None)
        if group:
            raise accounts.AccountError("GROUP is for `make user`; a token carries the groups its user has")
        pool = accounts.stage_pool(stage)
        return accounts.deployed_token(accounts.cognito_client(pool), pool, user, getpass.getpass)

    return _one_line("make token", issue)


def user(email: str, group: str, stage: str) -> int:
    """Create a user: locally with the local password, deployed by invitation or a prompted password."""
    import getpass

    from devstack import accounts

    if not email:
        print(USER_USAGE, file=sys.stderr)
        return 2

    def create() -> str:
        if stage == "local":
            from devstack.tokens import LOCAL_PASSWORD

            made = accounts.local_user(accounts.local_stack_info(_state_path()), email, group or None)
            return f"{made} is ready on the local stack; its password is {LOCAL_PASSWORD}"
        pool = accounts.stage_pool(stage)
        return accounts.create_user(
            accounts.cognito_client(pool), pool, email, group or None, getpass.getpass
        )

    return _one_line("make user", create)


def console(stage: str) -> int:
    """Serve the console against a deployed stage until Ctrl-C."""
    from devstack.console import ConsoleServer, StageNotDeployed, deployed_config, origin

    port = _port("PEOPLE_CONSOLE_PORT", 8001)
    try:
        config = deployed_config(stage)
    except StageNotDeployed as exc:
        print(f"make console: {exc}", file=sys.stderr)
        return 1
    server = ConsoleServer(config, port).start()
    print(
        f"the console for stage {stage} is at {server.url} (API {config.api_url});\n"
        f"the stage's CORS_ALLOWED_ORIGINS must include {origin(port)}. Ctrl-C stops it.",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the local stack")
    commands.add_parser("emulator", help="start only the emulator (provisioned) and the event pump")
    token_parser = commands.add_parser("token", help="print an ID token")
    token_parser.add_argument("--user", default="")
    token_parser.add_argument("--group", default="")
    token_parser.add_argument("--stage", default="local")
    user_parser = commands.add_parser("user", help="create a user")
    user_parser.add_argument("--email", default="")
    user_parser.add_argument("--group", default="")
    user_parser.add_argument("--stage", default="local")
    console_parser = commands.add_parser("console", help="serve the console against a deployed stage")
    console_parser.add_argument("--stage", required=True)
    args = parser.parse_args(argv)
    if args.command == "run":
        return run()
    if args.command == "emulator":
        return run(api=False)
    if args.command == "console":
        return console(args.stage)
    if args.command == "user":
        return user(args.email, args.group, args.stage)
    return token(args.user, args.group, args.stage)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
