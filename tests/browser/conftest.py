"""The console in headless Chromium (Debian's, driven by Playwright) against one real local stack.

One browser and one local stack for the whole package; each test gets a fresh browser context
(its own sessionStorage), so tests cannot see each other's sign-in. Screenshots of every screen
go to build/screenshots/ for a person to look at.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from devstack import ROOT, background
from devstack.background import BackgroundStack
from devstack.tokens import LOCAL_PASSWORD, ensure_user, id_token
from tests.e2e.http import Reply, request

CHROMIUM = "/usr/bin/chromium"
# No sandbox: CI runs as root, where Chromium's sandbox cannot start; the page is our own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "build" / "screenshots"


@pytest.fixture(scope="package")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundStack]:
    stack = background.start(tmp_path_factory.mktemp("browser-stack"))
    try:
        yield stack
    finally:
        background.stop(stack)


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@dataclass
class Console:
    """A signed-out console page, and the ways a test acts as the user or behind the page's back."""

    page: Page
    stack: BackgroundStack
    tag: str
    page_errors: list[str] = field(default_factory=list)

    def user(self, name: str) -> str:
        """A fresh user's name for this test (created on first sign-in or token)."""
        return f"{name}-{self.tag}"

    def sign_in(self, name: str, group: str | None = None) -> str:
        email = ensure_user(self.stack.info, name, group)
        self.page.fill("#email", email)
        self.page.fill("#password", LOCAL_PASSWORD)
        self.page.click("#sign-in")
        expect(self.page.locator("#list-view")).to_be_visible()
        return email

    def token(self, name: str, group: str | None = None) -> str:
        return id_token(self.stack.info, name, group)

    def api(self, method: str, path: str, name: str, **kwargs: Any) -> Reply:
        """Call the API directly as `name` (what another tab or another client would do)."""
        return request(self.stack.api_url, method, path, token=self.token(name), **kwargs)

    def screenshot(self, screen: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{screen}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def row(self, name: str) -> Any:
        return self.page.locator("#people tbody tr", has_text=name)


@pytest.fixture
def console(browser: Browser, local_stack: BackgroundStack) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1200, "height": 760})
    page = context.new_page()
    page.set_default_timeout(10_000)
    opened = Console(page, local_stack, uuid.uuid4().hex[:8])
    page.on("pageerror", lambda error: opened.page_errors.append(str(error)))
    # A Content-Security-Policy violation shows up as a console error naming the policy.
    page.on(
        "console",
        lambda msg: (
            opened.page_errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    page.goto(local_stack.console_url)
    try:
        yield opened
        assert opened.page_errors == []
    finally:
        context.close()


@pytest.fixture
def wait_for_history(local_stack: BackgroundStack) -> Callable[..., list[Any]]:
    """Poll the API until a person's history has `count` entries (it follows a change by ~0.1 s)."""
    import time

    def wait(console: Console, user: str, person_id: str, count: int) -> list[Any]:
        for _ in range(100):
            entries = console.api("GET", f"/people/{person_id}/history", user).json()
            if len(entries) >= count:
                return list(entries)
            time.sleep(0.1)
        raise AssertionError(f"history of {person_id} never reached {count} entries")

    return wait
