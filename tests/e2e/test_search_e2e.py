"""Search over HTTP against the local stack: 300 people, names in several scripts, random tags.

Every search the API answers is compared with the same search done in Python over the full
list, across pages, before and after renames, tag changes and deletes. Name search reads the
name index (written with the person); tag search reads the entries the stream handler keeps,
so tag results are awaited (the deadline only keeps a broken pipeline from hanging the run).
"""

from __future__ import annotations

import random
import time
import unicodedata
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import pytest

from devstack.background import BackgroundStack
from devstack.tokens import id_token
from tests.e2e.http import request

pytestmark = pytest.mark.e2e

Json = dict[str, Any]

FIRST = [
    "Ada", "Ádám", "adrian", "Zoë", "Émile", "Łukasz", "Søren", "Ñoño", "Straße", "Çelik", "Björn",
    "Anaïs", "Ève", "ﬁona",  # Latin, with accents, a ligature
    "Ὀδυσσεύς", "Σωκράτης", "Αθηνά", "Άρης", "Ελένη",  # Greek
    "Пётр", "Йосиф", "Анна", "Ёлка", "Наталья", "ИВАН",  # Cyrillic
    "山田", "田中", "李", "王小明", "김민준", "さくら",  # CJK
]  # fmt: skip
LAST = ["Lovelace", "Kovács", "Öztürk", "Παπαδόπουλος", "Иванова", "太郎", "", "O'Neil", "de la Peña"]
TAGS = ["math", "MATH", "Art", "physics", "Café", "café", "ελληνικά", "Русский", "日本", "x"]
PEOPLE = 300
WORKERS = 6
PAGE = 40  # every search of many people spans several pages


def fold(text: str) -> str:
    """The search form, written out here from the README's definition (not imported)."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return unicodedata.normalize("NFC", " ".join(kept.casefold().split()))


def fold_tag(tag: str) -> str:
    return unicodedata.normalize("NFC", tag.strip()).casefold()


class Api:
    def __init__(self, stack: BackgroundStack, user: str) -> None:
        self.url = stack.api_url
        self.token = id_token(stack.info, user)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else None
        reply = request(self.url, method, path, token=self.token, body=body, headers=headers)
        assert reply.status < 300, (method, path, reply.status, reply.raw[:500])
        return reply.json()

    def every_page(self, query: str) -> list[Json]:
        """The whole listing, following `Link` from page to page (each page is checked whole)."""
        found: list[Json] = []
        path: str | None = f"/people?limit={PAGE}&{query}"
        while path:
            reply = request(self.url, "GET", path, token=self.token)
            assert reply.status == 200, (path, reply.raw[:500])
            page = reply.json()
            assert len(page) <= PAGE
            found += page
            link = reply.headers.get("link")
            assert bool(link) == (len(page) == PAGE) or not link, path  # no link after a short page
            path = link[1 : link.index(">")] if link else None
        return found


def random_person(rng: random.Random) -> Json:
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}".strip()
    return {"name": name, "tags": rng.sample(TAGS, rng.randint(0, 3))}


def name_order(people: list[Json]) -> list[Json]:
    return sorted(people, key=lambda p: (fold(p["name"]).encode(), p["id"]))


def expected_by_name(people: list[Json], prefix: str) -> list[Json]:
    wanted = fold(prefix) + (" " if prefix[-1:].isspace() else "")
    return [p for p in name_order(people) if fold(p["name"]).startswith(wanted)]


def expected_by_tag(people: list[Json], tag: str) -> list[Json]:
    wanted = fold_tag(tag)
    return sorted((p for p in people if wanted in {fold_tag(t) for t in p["tags"]}), key=lambda p: p["id"])


def prefixes(people: list[Json], rng: random.Random) -> list[str]:
    """Prefixes typed as a user would: some exact, some upper-cased, some without accents."""
    typed = ["a", "ad", "ÁD", "ada l", "ada ", "anna ", "zoe", "emile", "fio", "strass", "οδυ", "ΣΩ", "αθ",
             "петр", "ёл", "елк", "йос", "山", "王小", "김", "さ", "q"]  # fmt: skip
    for person in rng.sample(people, 3):
        name = person["name"]
        typed.append(name[: rng.randint(1, len(name))].upper())
    return typed


def eventually(check: Callable[[], bool], timeout: float = 30) -> None:
    """Poll `check`; the deadline only keeps a broken pipeline from hanging the run."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the tag entries did not catch up"
        time.sleep(0.25)


def check_every_search(api: Api, people: list[Json], rng: random.Random) -> None:
    full = api.every_page("")
    assert full == sorted(people, key=lambda p: p["id"])  # the plain list is the ground truth
    assert api.every_page("sort=name") == name_order(full)
    for prefix in prefixes(full, rng):
        assert api.every_page(f"name={quote(prefix)}") == expected_by_name(full, prefix), prefix
    for tag in [*TAGS, "Math", "ΕΛΛΗΝΙΚΆ", "nobody"]:
        expected = expected_by_tag(full, tag)
        eventually(lambda tag=tag, expected=expected: api.every_page(f"tag={quote(tag)}") == expected)


def test_every_search_matches_the_same_search_over_the_full_list(local_stack: BackgroundStack) -> None:
    rng = random.Random(13)
    run = uuid.uuid4().hex[:8]
    alice, bob = Api(local_stack, f"search-alice-{run}"), Api(local_stack, f"search-bob-{run}")
    with ThreadPoolExecutor(WORKERS) as pool:
        bodies = [random_person(rng) for _ in range(PEOPLE)]
        people: list[Json] = list(pool.map(lambda b: alice.call("POST", "/people", b), bodies))
        list(pool.map(lambda b: bob.call("POST", "/people", b), bodies[:20]))  # never in alice's results
    check_every_search(alice, people, rng)

    by_id = {p["id"]: p for p in people}
    shuffled = rng.sample(sorted(by_id), len(by_id))
    renamed, retagged, deleted = shuffled[:40], shuffled[40:80], shuffled[80:110]
    with ThreadPoolExecutor(WORKERS) as pool:
        for changed in pool.map(
            lambda pid: alice.call("PATCH", f"/people/{pid}", {"name": random_person(rng)["name"]}), renamed
        ):
            by_id[changed["id"]] = changed
        for changed in pool.map(
            lambda pid: alice.call("PATCH", f"/people/{pid}", {"tags": random_person(rng)["tags"]}), retagged
        ):
            by_id[changed["id"]] = changed
        list(pool.map(lambda pid: alice.call("DELETE", f"/people/{pid}"), deleted))
    for pid in deleted:
        del by_id[pid]
    check_every_search(alice, list(by_id.values()), rng)
