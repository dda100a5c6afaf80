"""GET /people?name=, ?tag= and ?sort=name through Chalice's test client on the emulator.

Tag entries are written by the real stream handler, stepped by the local stack's pump.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from tests.support import Api, assert_problem, body, create

Json = dict[str, Any]


@pytest.fixture(scope="module")
def pump(stack: Any, chalice_app: Any) -> Callable[[], None]:
    """Run the stream handler over everything written so far (as Lambda would, shortly after)."""
    from devstack.pump import app_pump

    stream = app_pump(stack)

    def drain() -> None:
        while stream.pump_stream():
            pass

    return drain


def pages(api: Api, path: str) -> tuple[list[Json], int]:
    """Every person listed from `path` on, following Link headers; and how many pages it took."""
    found: list[Json] = []
    count = 0
    next_path: str | None = path
    while next_path:
        response = api.call("GET", next_path)
        assert response.status_code == 200, response.body
        found += body(response)
        count += 1
        link = response.headers.get("Link")
        next_path = link[1 : link.index(">")] if link else None
    return found, count


def names(people: list[Json]) -> list[str]:
    return [p["name"] for p in people]


def test_a_name_prefix_finds_people_ignoring_case_and_accents_in_name_order(users: dict[str, Api]) -> None:
    alice = users["alice"]
    for name in ("Adrian", "Bea", "Ádám", "ADA", "Zoë", "Ada Lovelace"):
        create(alice, name=name)
    create(users["bob"], name="Ada")
    found, _ = pages(alice, "/people?name=ad")
    assert names(found) == ["ADA", "Ada Lovelace", "Ádám", "Adrian"]
    assert names(pages(alice, f"/people?name={quote('ÁDA')}")[0]) == ["ADA", "Ada Lovelace", "Ádám"]
    assert names(pages(alice, "/people?name=ada%20l")[0]) == ["Ada Lovelace"]
    assert names(pages(alice, "/people?name=zoe&sort=name")[0]) == ["Zoë"]
    assert pages(alice, "/people?name=q")[0] == []


def test_search_results_are_whole_people(users: dict[str, Api]) -> None:
    ada = create(users["alice"], name="Ada", email="ada@example.com", tags=["math"])
    assert body(users["alice"].call("GET", "/people?name=a")) == [ada]
    assert body(users["alice"].call("GET", "/people?sort=name")) == [ada]


def test_sort_by_name_lists_everyone_alphabetically_across_pages(users: dict[str, Api]) -> None:
    alice = users["alice"]
    for name in ("Carl", "bea", "Ádám", "ada", "Пётр", "Ὀδυσσεύς", "山田"):
        create(alice, name=name)
    found, count = pages(alice, "/people?sort=name&limit=2")
    assert names(found) == ["ada", "Ádám", "bea", "Carl", "Ὀδυσσεύς", "Пётр", "山田"] and count == 4
    assert names(pages(alice, "/people?sort=created")[0])[0] == "Carl"  # the default order


def test_name_search_pages_carry_the_query_in_their_link(users: dict[str, Api]) -> None:
    alice = users["alice"]
    for i in range(5):
        create(alice, name=f"Ada {i}")
    create(alice, name="Bob")
    response = alice.call("GET", "/people?name=ada&limit=2")
    link = response.headers["Link"]
    assert "name=ada" in link and "limit=2" in link and link.endswith('rel="next"')
    found, count = pages(alice, "/people?name=ada&limit=2")
    assert names(found) == [f"Ada {i}" for i in range(5)] and count == 3


def test_renames_and_deletes_change_name_search_at_once(users: dict[str, Api]) -> None:
    alice = users["alice"]
    ada = create(alice, name="Ada")
    alice.call("PATCH", f"/people/{ada['id']}", {"name": "Zoë"})
    assert pages(alice, "/people?name=ada")[0] == []
    assert names(pages(alice, "/people?name=z")[0]) == ["Zoë"]
    alice.call("DELETE", f"/people/{ada['id']}")
    assert pages(alice, "/people?name=z")[0] == [] and pages(alice, "/people?sort=name")[0] == []


def test_a_tag_finds_people_carrying_it_case_folded_in_creation_order(
    users: dict[str, Api], pump: Callable[[], None]
) -> None:
    alice = users["alice"]
    first = create(alice, name="Ada", tags=["Math", "x"])
    create(alice, name="Bea", tags=["art"])
    third = create(alice, name="Cy", tags=["math"])
    create(users["bob"], name="Bob", tags=["math"])
    pump()
    found, count = pages(alice, "/people?tag=MATH&limit=1")
    assert found == [first, third] and count == 2
    assert pages(alice, "/people?tag=physics")[0] == []


def test_tag_changes_move_people_between_tags_and_deletes_remove_them(
    users: dict[str, Api], pump: Callable[[], None]
) -> None:
    alice = users["alice"]
    person = create(alice, name="Ada", tags=["a", "b"])
    pump()
    moved = body(alice.call("PATCH", f"/people/{person['id']}", {"tags": ["b", "c"], "notes": "n"}))
    pump()
    assert pages(alice, "/people?tag=a")[0] == []
    assert pages(alice, "/people?tag=b")[0] == [moved]  # the copy is the person as changed
    assert pages(alice, "/people?tag=c")[0] == [moved]
    alice.call("DELETE", f"/people/{person['id']}")
    pump()
    assert pages(alice, "/people?tag=b")[0] == [] and pages(alice, "/people?tag=c")[0] == []


def test_admins_search_another_owners_people(users: dict[str, Api], pump: Callable[[], None]) -> None:
    ada = create(users["alice"], name="Ada", tags=["t"])
    pump()
    owner = ada["owner"]
    admin = users["admin"]
    for query in ("name=a", "sort=name", "tag=t"):
        assert pages(admin, f"/people?owner={owner}&{query}")[0] == [ada], query
        assert body(admin.call("GET", f"/people?{query}")) == []  # the admin's own people
    assert_problem(users["bob"].call("GET", f"/people?owner={owner}&name=a"), 403)


def test_admin_search_links_keep_the_owner(users: dict[str, Api]) -> None:
    for name in ("Ada", "Adam"):
        owner = create(users["alice"], name=name)["owner"]
    link = users["admin"].call("GET", f"/people?owner={owner}&name=ad&limit=1").headers["Link"]
    assert f"owner={owner}" in link and "name=ad" in link
    assert names(pages(users["admin"], f"/people?owner={owner}&name=ad&limit=1")[0]) == ["Ada", "Adam"]


def test_a_cursor_only_continues_its_own_query(users: dict[str, Api], pump: Callable[[], None]) -> None:
    alice = users["alice"]
    for name in ("Ada", "Adam", "Bea", "Ben"):
        create(alice, name=name, tags=["t"])
    pump()
    for query, other in (
        ("name=ad", "name=b"),
        ("name=ad", "sort=name"),
        ("sort=name", "tag=t"),
        ("tag=t", "tag=u"),
        ("tag=t", ""),
        ("", "sort=name"),
    ):
        link = alice.call("GET", f"/people?limit=1&{query}").headers["Link"]
        cursor = link[link.index("cursor=") : link.index(">")].split("&")[0]
        problem = assert_problem(alice.call("GET", f"/people?limit=1&{other}&{cursor}"), 400)
        assert "cursor" in problem["detail"], (query, other)
    # The same query, spelt differently, is the same query.
    link = alice.call("GET", "/people?limit=1&name=AD").headers["Link"]
    cursor = link[link.index("cursor=") : link.index(">")].split("&")[0]
    assert names(body(alice.call("GET", f"/people?limit=5&name=%C3%A1d&{cursor}"))) == ["Adam"]


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("name=", "name must hold"),
        ("name=%20%20", "name must hold"),
        ("name=%CC%81", "name must hold"),
        ("name=a%01", "name must hold"),
        ("name=" + "a" * 201, "name must be at most 200"),
        ("tag=", "tag must be a valid tag"),
        ("tag=" + "t" * 51, "tag must be a valid tag"),
        ("tag=a%00b", "tag must be a valid tag"),
        ("tag=%E2%80%8B", "tag must be a valid tag"),
        ("sort=age", "sort must be"),
        ("sort=", "sort must be"),
        ("name=a&tag=b", "no index serves name=, tag="),
        ("tag=b&sort=name", "no index serves tag=, sort="),
        ("name=a&sort=created", "no index serves name=, sort="),
        ("name=a&name=b", "more than once"),
    ],
)
def test_bad_search_parameters_are_400_naming_the_parameter(
    users: dict[str, Api], query: str, says: str
) -> None:
    problem = assert_problem(users["alice"].call("GET", f"/people?{query}"), 400)
    assert says in problem["detail"]


def test_an_unservable_combination_says_which_combinations_exist(users: dict[str, Api]) -> None:
    problem = assert_problem(users["alice"].call("GET", "/people?name=a&tag=b"), 400)
    for combination in ("sort=name", "name=<prefix>", "tag=<tag>", "creation order"):
        assert combination in problem["detail"]


def test_each_search_page_is_one_query(users: dict[str, Api], pump: Callable[[], None]) -> None:
    from tests.support import DynamoRequests

    alice = users["alice"]
    for name in ("Ada", "Adam", "Bea"):
        create(alice, name=name, tags=["t"])
    pump()
    for query in ("name=ad", "sort=name", "tag=t"):
        with DynamoRequests() as first:
            link = alice.call("GET", f"/people?limit=1&{query}").headers["Link"]
        with DynamoRequests() as following:
            assert alice.call("GET", link[1 : link.index(">")]).status_code == 200
        assert first.operations == following.operations == ["Query"], query
