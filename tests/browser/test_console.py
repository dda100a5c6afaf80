"""A person uses the console in a real browser: sign in, people, conflicts, history, admin, sign out."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Console

pytestmark = pytest.mark.browser

SESSION_KEY = "people-console.session"


def _stored_session(console: Console) -> Any:
    raw = console.page.evaluate(f"sessionStorage.getItem('{SESSION_KEY}')")
    return json.loads(raw) if raw else None


def _set_stored_session(console: Console, session: dict[str, Any]) -> None:
    console.page.evaluate(
        "([key, value]) => sessionStorage.setItem(key, value)", [SESSION_KEY, json.dumps(session)]
    )


def _create(console: Console, user: str, **person: Any) -> dict[str, Any]:
    reply = console.api("POST", "/people", user, body=person)
    assert reply.status == 201, reply.raw
    return dict(reply.json())


def test_a_wrong_password_shows_the_problem_and_the_right_one_signs_in(console: Console) -> None:
    page = console.page
    console.screenshot("01-sign-in")
    email = f"{console.user('ada')}@example.com"
    console.token(email)  # the user exists
    page.fill("#email", email)
    page.fill("#password", "not-the-password-1A")
    page.click("#sign-in")
    expect(page.locator("#problem-title")).to_have_text("Sign-in refused")
    expect(page.locator("#problem-detail")).not_to_be_empty()
    console.screenshot("02-sign-in-refused")
    console.sign_in(email)
    expect(page.locator("#user-email")).to_have_text(email)
    expect(page.locator("#problem")).to_be_hidden()
    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#admin-badge")).to_be_hidden()
    expect(page.locator("#owner-form")).to_be_hidden()
    console.screenshot("03-empty-list")


def test_a_person_created_in_the_form_is_listed_and_pages_follow_the_link_header(console: Console) -> None:
    page, user = console.page, console.user("grace")
    for n in range(10):
        _create(console, user, name=f"Person {n:02d}")
    console.sign_in(user)
    expect(page.locator("#people tbody tr")).to_have_count(10)
    expect(page.locator("#next-page")).to_be_disabled()  # exactly one page: no Link header
    page.click("#new-person")
    page.fill("#f-name", "Grace Hopper")
    page.fill("#f-email", "grace@example.com")
    page.fill("#f-tags", "navy, cobol")
    console.screenshot("04-new-person-form")
    page.click("#save")
    expect(page.locator("#notice")).to_have_text("Created Grace Hopper.")
    people = console.api("GET", "/people?limit=100", user).json()
    assert [p["name"] for p in people][-1] == "Grace Hopper"
    assert people[-1]["tags"] == ["navy", "cobol"]
    expect(page.locator("#next-page")).to_be_enabled()
    page.click("#next-page")  # the 11th person is on the second page
    expect(page.locator("#people tbody tr")).to_have_count(1)
    expect(console.row("Grace Hopper")).to_contain_text("navy")
    expect(page.locator("#next-page")).to_be_disabled()
    console.screenshot("05-second-page")
    page.click("#first-page")
    expect(page.locator("#people tbody tr")).to_have_count(10)


def test_an_edit_is_saved_with_the_etag_as_if_match(console: Console) -> None:
    page, user = console.page, console.user("edith")
    person = _create(console, user, name="Edith Clarke", phone="+1 555 0100")
    console.sign_in(user)
    console.row("Edith Clarke").get_by_role("button", name="Edit").click()
    expect(page.locator("#f-phone")).to_have_value("+1 555 0100")
    page.fill("#f-notes", "first woman electrical engineer")
    console.screenshot("06-edit-form")
    page.click("#save")
    expect(page.locator("#notice")).to_contain_text("version 2")
    expect(console.row("Edith Clarke").locator(".version")).to_have_text("2")
    saved = console.api("GET", f"/people/{person['id']}", user).json()
    assert saved["notes"] == "first woman electrical engineer"
    assert saved["phone"] == "+1 555 0100"


def test_a_conflicting_change_shows_the_newer_version_and_the_user_can_retry(console: Console) -> None:
    page, user = console.page, console.user("kat")
    person = _create(console, user, name="Katherine Johnson")
    console.sign_in(user)
    console.row("Katherine Johnson").get_by_role("button", name="Edit").click()
    expect(page.locator("#f-name")).to_have_value("Katherine Johnson")
    # Someone else changes the person while the form is open.
    behind = console.api(
        "PATCH",
        f"/people/{person['id']}",
        user,
        body={"email": "kj@nasa.example"},
        headers={"If-Match": '"1"'},
    )
    assert behind.status == 200
    page.fill("#f-notes", "orbital mechanics")
    page.click("#save")
    expect(page.locator("#problem-title")).to_have_text("Precondition failed")
    expect(page.locator("#problem-detail")).not_to_be_empty()
    expect(page.locator("#conflict")).to_be_visible()
    expect(page.locator("#conflict-person dd[data-field=email]")).to_have_text("kj@nasa.example")
    expect(page.locator("#conflict-version")).to_contain_text("version 2")
    console.screenshot("07-conflict")
    page.click("#retry-mine")
    expect(page.locator("#notice")).to_contain_text("version 3")
    saved = console.api("GET", f"/people/{person['id']}", user).json()
    assert (saved["version"], saved["notes"]) == (3, "orbital mechanics")


def test_taking_the_newer_version_loads_it_into_the_form(console: Console) -> None:
    page, user = console.page, console.user("mary")
    person = _create(console, user, name="Mary Jackson")
    console.sign_in(user)
    console.row("Mary Jackson").get_by_role("button", name="Edit").click()
    expect(page.locator("#f-name")).to_have_value("Mary Jackson")
    console.api("PATCH", f"/people/{person['id']}", user, body={"phone": "+1 555 0199"})
    page.fill("#f-name", "Mary W. Jackson")
    page.click("#save")
    expect(page.locator("#conflict")).to_be_visible()
    page.click("#take-theirs")
    expect(page.locator("#f-phone")).to_have_value("+1 555 0199")
    expect(page.locator("#f-name")).to_have_value("Mary Jackson")
    page.fill("#f-name", "Mary W. Jackson")
    page.click("#save")
    expect(page.locator("#notice")).to_contain_text("version 3")


def test_a_delete_asks_first_and_cancel_keeps_the_person(console: Console) -> None:
    page, user = console.page, console.user("dora")
    person = _create(console, user, name="Dorothy Vaughan")
    console.sign_in(user)
    console.row("Dorothy Vaughan").get_by_role("button", name="Delete").click()
    expect(page.locator("#confirm-delete")).to_be_visible()
    expect(page.locator("#confirm-text")).to_contain_text("Dorothy Vaughan")
    console.screenshot("08-confirm-delete")
    page.click("#confirm-cancel")
    expect(console.row("Dorothy Vaughan")).to_have_count(1)
    assert console.api("GET", f"/people/{person['id']}", user).status == 200
    console.row("Dorothy Vaughan").get_by_role("button", name="Delete").click()
    page.click("#confirm-yes")
    expect(page.locator("#notice")).to_have_text("Deleted Dorothy Vaughan.")
    expect(console.row("Dorothy Vaughan")).to_have_count(0)
    assert console.api("GET", f"/people/{person['id']}", user).status == 404


def test_history_lists_each_change_newest_first(
    console: Console, wait_for_history: Callable[..., list[Any]]
) -> None:
    page, user = console.page, console.user("ida")
    person = _create(console, user, name="Ida Rhodes")
    console.api("PATCH", f"/people/{person['id']}", user, body={"notes": "FOSDIC", "tags": ["census"]})
    wait_for_history(console, user, person["id"], 2)
    console.sign_in(user)
    console.row("Ida Rhodes").get_by_role("button", name="History").click()
    expect(page.locator("#history-title")).to_have_text("History of Ida Rhodes")
    entries = page.locator("#history li")
    expect(entries).to_have_count(2)
    expect(entries.nth(0)).to_contain_text("version 2")
    expect(entries.nth(0)).to_contain_text("notes, tags")
    expect(entries.nth(1)).to_contain_text("version 1")
    console.screenshot("09-history")
    page.click("#history-back")
    expect(page.locator("#list-view")).to_be_visible()


def test_every_error_shows_the_problems_title_and_detail(console: Console) -> None:
    page, user = console.page, console.user("val")
    console.sign_in(user)
    page.click("#new-person")
    page.fill("#f-name", "Valerie Thomas")
    page.fill("#f-phone", "call me")
    page.click("#save")
    expect(page.locator("#problem-title")).to_have_text("Validation failed")
    expect(page.locator("#problem-detail")).not_to_be_empty()
    expect(page.locator("#problem-fields")).to_contain_text("phone")
    console.screenshot("10-validation-problem")


def test_an_admin_views_another_owners_people(console: Console) -> None:
    page, alice, root = console.page, console.user("alice"), console.user("root")
    person = _create(console, alice, name="Alice's contact")
    console.sign_in(root, "admins")
    expect(page.locator("#admin-badge")).to_be_visible()
    expect(page.locator("#empty")).to_be_visible()
    page.fill("#owner", person["owner"])
    page.click("#owner-form button[type=submit]")
    expect(page.locator("#list-title")).to_have_text(f"People of {person['owner']}")
    expect(console.row("Alice's contact")).to_have_count(1)
    expect(page.locator("#new-person")).to_be_hidden()
    console.screenshot("11-admin-view")
    page.click("#owner-clear")
    expect(page.locator("#list-title")).to_have_text("Your people")


def test_a_non_admin_asking_for_another_owner_sees_forbidden(console: Console) -> None:
    page, user = console.page, console.user("nosy")
    console.sign_in(user)
    # The form is hidden for non-admins; a crafted request still gets the API's answer.
    page.evaluate("document.getElementById('owner-form').hidden = false")
    page.fill("#owner", "someone-else")
    page.click("#owner-form button[type=submit]")
    expect(page.locator("#problem-title")).to_have_text("Forbidden")


def test_sign_out_forgets_the_session(console: Console) -> None:
    page, user = console.page, console.user("sam")
    console.sign_in(user)
    assert _stored_session(console) is not None
    page.click("#sign-out")
    expect(page.locator("#sign-in-view")).to_be_visible()
    expect(page.locator("#notice")).to_have_text("You are signed out.")
    assert _stored_session(console) is None
    console.screenshot("12-signed-out")
    page.reload()
    expect(page.locator("#sign-in-view")).to_be_visible()


def test_an_expired_session_sends_the_user_to_sign_in(console: Console) -> None:
    page, user = console.page, console.user("exp")
    console.sign_in(user)
    session = _stored_session(console)
    header, claims, _signature = session["idToken"].split(".")
    # The API rejects the token (as it would an expired one); the console still thinks it is fresh.
    _set_stored_session(console, {**session, "idToken": f"{header}.{claims}.AAAA"})
    page.click("#reload")
    expect(page.locator("#sign-in-view")).to_be_visible()
    expect(page.locator("#problem-title")).to_have_text("Unauthenticated")
    expect(page.locator("#problem-detail")).to_contain_text("token")
    expect(page.locator("#problem-hint")).to_have_text("Your session has ended: sign in again.")
    assert _stored_session(console) is None
    console.screenshot("13-session-expired")
    console.sign_in(user)
    expect(page.locator("#problem")).to_be_hidden()


def test_a_token_about_to_expire_is_refreshed_before_the_call(console: Console) -> None:
    page, user = console.page, console.user("ref")
    console.sign_in(user)
    session = _stored_session(console)
    soon = int(time.time() * 1000) + 30_000
    # A token that would fail if sent: only a refresh (REFRESH_TOKEN_AUTH) lets the list load.
    _set_stored_session(console, {**session, "idToken": "not-a-token", "expiresAt": soon})
    api = console.stack.api_url
    with page.expect_response(
        lambda r: r.url.startswith(f"{api}/people") and r.request.method == "GET"
    ) as got:
        page.click("#reload")
    listed = got.value
    refreshed = _stored_session(console)
    assert listed.status == 200
    assert listed.request.headers["authorization"] == f"Bearer {refreshed['idToken']}"
    expect(page.locator("#problem")).to_be_hidden()
    assert refreshed["idToken"] != "not-a-token"
    assert refreshed["expiresAt"] > soon
    assert refreshed["refreshToken"] == session["refreshToken"]
