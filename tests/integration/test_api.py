"""Every route, status code and error through Chalice's own test client, on the emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import Api, assert_problem, body, create


def test_health_needs_no_token(users: dict[str, Api]) -> None:
    response = users["anon"].call("GET", "/health")
    assert response.status_code == 200 and body(response) == {"status": "ok"}


def test_create_returns_the_person_with_location_and_etag(users: dict[str, Api]) -> None:
    response = users["alice"].call(
        "POST", "/people", {"name": " Ada ", "email": "ada@example.com", "tags": ["x"]}
    )
    assert response.status_code == 201
    person = body(response)
    assert response.headers["Location"] == f"/people/{person['id']}"
    assert response.headers["ETag"] == '"1"'
    assert person["name"] == "Ada" and person["tags"] == ["x"] and person["phone"] is None
    assert person["version"] == 1 and person["created_at"].endswith("Z")


def test_get_returns_the_person_with_its_etag(users: dict[str, Api]) -> None:
    person = create(users["alice"])
    response = users["alice"].call("GET", f"/people/{person['id']}")
    assert response.status_code == 200 and body(response) == person and response.headers["ETag"] == '"1"'
    assert users["alice"].call("GET", f"/people/{person['id'].lower()}").status_code == 200


def test_put_replaces_every_writable_field(users: dict[str, Api]) -> None:
    person = create(users["alice"], email="ada@example.com", tags=["x"], notes="n")
    response = users["alice"].call("PUT", f"/people/{person['id']}", {"name": "Ada L", "phone": "+1 555"})
    assert response.status_code == 200 and response.headers["ETag"] == '"2"'
    replaced = body(response)
    assert (replaced["name"], replaced["phone"], replaced["email"], replaced["notes"], replaced["tags"]) == (
        "Ada L",
        "+1 555",
        None,
        None,
        [],
    )
    assert replaced["created_at"] == person["created_at"] and replaced["version"] == 2


def test_put_never_creates(users: dict[str, Api]) -> None:
    from chalicelib.domain import new_id

    assert_problem(users["alice"].call("PUT", f"/people/{new_id()}", {"name": "X"}), 404)


def test_patch_merges_and_null_clears(users: dict[str, Api]) -> None:
    person = create(users["alice"], email="ada@example.com", notes="keep")
    response = users["alice"].call(
        "PATCH",
        f"/people/{person['id']}",
        {"email": None, "tags": ["a", "b"]},
        content_type="application/merge-patch+json",
    )
    patched = body(response)
    assert response.status_code == 200 and response.headers["ETag"] == '"2"'
    assert (patched["email"], patched["notes"], patched["tags"]) == (None, "keep", ["a", "b"])
    plain = users["alice"].call("PATCH", f"/people/{person['id']}", {"notes": "json too"})
    assert plain.status_code == 200 and body(plain)["notes"] == "json too"


def test_patch_cannot_clear_the_name(users: dict[str, Api]) -> None:
    person = create(users["alice"])
    problem = assert_problem(users["alice"].call("PATCH", f"/people/{person['id']}", {"name": None}), 422)
    assert problem["errors"][0]["field"] == "name"


def test_delete_returns_an_empty_object_and_the_person_is_gone(users: dict[str, Api]) -> None:
    person = create(users["alice"])
    response = users["alice"].call("DELETE", f"/people/{person['id']}")
    assert response.status_code == 200 and body(response) == {}
    assert_problem(users["alice"].call("GET", f"/people/{person['id']}"), 404)
    assert_problem(users["alice"].call("DELETE", f"/people/{person['id']}"), 404)
    assert body(users["alice"].call("GET", "/people")) == []


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_stale_if_match_is_412_and_a_current_one_succeeds(users: dict[str, Api], method: str) -> None:
    person = create(users["alice"])
    path = f"/people/{person['id']}"
    payload = {"name": "New"} if method != "DELETE" else None
    assert_problem(users["alice"].call(method, path, payload, If_Match='"7"'), 412)
    assert users["alice"].call(method, path, payload, If_Match='"1"').status_code == 200


def test_if_match_star_and_weak_tags(users: dict[str, Api]) -> None:
    person = create(users["alice"])
    path = f"/people/{person['id']}"
    assert_problem(users["alice"].call("PATCH", path, {"notes": "x"}, If_Match='W/"1"'), 412)
    assert users["alice"].call("PATCH", path, {"notes": "x"}, If_Match="*").status_code == 200
    assert_problem(users["alice"].call("PATCH", path, {"notes": "x"}, If_Match="1"), 400)


def test_if_match_on_someone_elses_person_is_still_404(users: dict[str, Api]) -> None:
    person = create(users["alice"])
    assert_problem(users["bob"].call("DELETE", f"/people/{person['id']}", If_Match='"9"'), 404)


def test_other_users_person_is_not_found(users: dict[str, Api]) -> None:
    person = create(users["alice"])
    path = f"/people/{person['id']}"
    for method, payload in [
        ("GET", None),
        ("PUT", {"name": "X"}),
        ("PATCH", {"name": "X"}),
        ("DELETE", None),
    ]:
        assert_problem(users["bob"].call(method, path, payload), 404)
    assert body(users["alice"].call("GET", path)) == person
    assert body(users["bob"].call("GET", "/people")) == []


def test_admins_may_read_change_and_delete_anyones_person(users: dict[str, Api]) -> None:
    person = create(users["alice"])
    path = f"/people/{person['id']}"
    assert users["admin"].call("GET", path).status_code == 200
    patched = body(users["admin"].call("PATCH", path, {"notes": "reviewed"}))
    assert patched["owner"] == person["owner"] and patched["notes"] == "reviewed"
    listed = users["admin"].call("GET", f"/people?owner={person['owner']}")
    assert [p["id"] for p in body(listed)] == [person["id"]]
    assert users["admin"].call("DELETE", path).status_code == 200
    assert_problem(users["alice"].call("GET", path), 404)


def test_non_admins_may_not_list_another_owner(users: dict[str, Api]) -> None:
    alice = create(users["alice"])
    assert_problem(users["bob"].call("GET", f"/people?owner={alice['owner']}"), 403)
    assert users["alice"].call("GET", f"/people?owner={alice['owner']}").status_code == 200


def test_listing_paginates_with_a_link_header(users: dict[str, Api]) -> None:
    ids = [create(users["alice"], name=f"p{i}")["id"] for i in range(5)]
    seen: list[str] = []
    path: str | None = "/people?limit=2"
    pages = 0
    while path:
        response = users["alice"].call("GET", path)
        assert response.status_code == 200
        seen += [p["id"] for p in body(response)]
        pages += 1
        link = response.headers.get("Link")
        path = link[1 : link.index(">")] if link else None
        if link:
            assert link.endswith('>; rel="next"') and "limit=2" in link
    assert seen == ids and pages == 3


def test_the_default_page_is_50(users: dict[str, Api]) -> None:
    assert "Link" not in users["alice"].call("GET", "/people").headers


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "limit=-1", "cursor=garbage"])
def test_bad_listing_parameters_are_400(users: dict[str, Api], query: str) -> None:
    assert_problem(users["alice"].call("GET", f"/people?{query}"), 400)


def test_a_tampered_or_foreign_cursor_is_400(users: dict[str, Api]) -> None:
    for i in range(3):
        create(users["alice"], name=f"p{i}")
    link = users["alice"].call("GET", "/people?limit=1").headers["Link"]
    path = link[1 : link.index(">")]
    cursor = path.split("cursor=")[1]
    tampered = path.replace(cursor, ("B" if cursor[0] != "B" else "C") + cursor[1:])
    assert_problem(users["alice"].call("GET", tampered), 400)
    assert_problem(users["bob"].call("GET", path), 400)


def test_malformed_json_is_400(users: dict[str, Api]) -> None:
    assert_problem(users["alice"].call("POST", "/people", raw=b'{"name": '), 400)
    assert_problem(users["alice"].call("POST", "/people", raw=b"\xff\xfe"), 400)


def test_a_body_that_is_not_json_is_415(users: dict[str, Api]) -> None:
    assert_problem(users["alice"].call("POST", "/people", raw=b"name=Ada", content_type="text/plain"), 415)
    person = create(users["alice"])
    assert_problem(
        users["alice"].call("PATCH", f"/people/{person['id']}", raw=b"x", content_type="application/xml"), 415
    )


def test_a_body_over_64_kib_is_413(users: dict[str, Api]) -> None:
    big = json.dumps({"name": "A", "notes": "x" * (64 * 1024)}).encode()
    assert_problem(users["alice"].call("POST", "/people", raw=big), 413)


def test_field_errors_are_422_with_every_field_listed(users: dict[str, Api]) -> None:
    problem = assert_problem(
        users["alice"].call("POST", "/people", {"name": 5, "email": "bad", "colour": "red"}), 422
    )
    assert {e["field"] for e in problem["errors"]} == {"name", "email", "colour"}
    assert_problem(users["alice"].call("POST", "/people", raw=b'["Ada"]'), 422)
    assert body(users["alice"].call("GET", "/people")) == []


def test_unsupported_methods_get_problem_json_405(users: dict[str, Api]) -> None:
    response = users["alice"].call("DELETE", "/people")
    problem = assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]
    assert problem["type"] == "urn:people-api:problem:method-not-allowed"
    assert problem["title"] == "Method not allowed"


def test_chalices_own_415_is_our_unsupported_media_type_problem(users: dict[str, Api]) -> None:
    # Routes without a body keep Chalice's content-type check, which answers before our code.
    response = users["alice"].call("GET", "/people", content_type="text/plain", raw=b"x")
    problem = assert_problem(response, 415)
    assert problem["type"] == "urn:people-api:problem:unsupported-media-type"
    assert problem["title"] == "Unsupported media type"


def test_unexpected_errors_are_500_with_a_request_id_and_no_traceback(
    users: dict[str, Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import services

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(services, "get_person", boom)
    problem = assert_problem(users["alice"].call("GET", "/people/01ARZ3NDEKTSV4RRFFQ69G5FAV"), 500)
    assert problem["request_id"] and "secret internals" not in json.dumps(problem)


@pytest.mark.parametrize(
    ("method", "path", "accepted"),
    [
        ("GET", "/people?id=01ARZ3NDEKTSV4RRFFQ69G5FAV", "owner, limit, cursor, name, tag, sort"),
        ("GET", "/people/01ARZ3NDEKTSV4RRFFQ69G5FAV?fields=name", "none"),
        ("GET", "/people/01ARZ3NDEKTSV4RRFFQ69G5FAV/history?owner=x", "limit, cursor"),
        ("DELETE", "/people/01ARZ3NDEKTSV4RRFFQ69G5FAV?force=1", "none"),
        ("GET", "/health?verbose=1", "none"),
    ],
)
def test_unknown_query_parameters_are_400_naming_the_accepted_ones(
    users: dict[str, Api], method: str, path: str, accepted: str
) -> None:
    problem = assert_problem(users["alice"].call(method, path), 400)
    assert repr(path.split("?")[1].split("=")[0]) in problem["detail"]
    assert problem["detail"].endswith(f"accepts: {accepted}")


def test_a_repeated_query_parameter_is_400(users: dict[str, Api]) -> None:
    assert_problem(users["alice"].call("GET", "/people?limit=1&limit=2"), 400)


def test_the_parameters_an_operation_reads_still_work(users: dict[str, Api]) -> None:
    create(users["alice"])
    assert users["alice"].call("GET", "/people?limit=1").status_code == 200
