"""How names and tags are folded for search, and which searches a query string asks for."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import Person
from chalicelib.errors import MalformedRequest
from chalicelib.search import (
    MAX_NAME_KEY_BYTES,
    PeopleQuery,
    fold,
    fold_tag,
    id_of_name_key,
    name_key,
    name_prefix,
    parse_query,
    tag_moves,
)

ID = "01J0000000000000000000000A"


@pytest.mark.parametrize(
    ("name", "folded"),
    [
        ("Ada", "ada"),
        ("ÁDÁM", "adam"),
        ("ADRIAN", "adrian"),
        ("Zoë Ñúñez", "zoe nunez"),
        ("Straße", "strasse"),  # case folding, not lower-casing
        ("ﬁnn", "finn"),  # compatibility ligature (NFKD)
        ("Ａｄａ", "ada"),  # fullwidth letters (NFKD)
        ("Ὀδυσσεύς", "οδυσσευσ"),  # Greek: accents and breathing gone, final sigma folded
        ("ΣΊΣΥΦΟΣ", "σισυφοσ"),
        ("Пётр Ильич", "петр ильич"),  # Cyrillic: ё is е with a diaeresis
        ("Йосиф", "иосиф"),  # й decomposes to и + breve, as ё does
        ("山田 太郎", "山田 太郎"),  # CJK has no case and no marks: unchanged
        ("김민준", "김민준"),  # Hangul syllables decompose (NFKD) and recompose (NFC)
        ("  Ada \t  Lovelace ", "ada lovelace"),  # white space collapsed
    ],
)
def test_names_fold_to_their_search_form(name: str, folded: str) -> None:
    assert fold(name) == folded


def test_composed_and_decomposed_spellings_fold_alike() -> None:
    composed = unicodedata.normalize("NFC", "Ádám")
    decomposed = unicodedata.normalize("NFD", "Ádám")
    assert composed != decomposed
    assert fold(composed) == fold(decomposed) == "adam"


def test_a_search_form_is_nfc() -> None:
    # Hangul syllables are split by NFKD; the search form recomposes them.
    assert unicodedata.is_normalized("NFC", fold("김민준 Å"))


def test_a_name_of_marks_alone_folds_to_nothing() -> None:
    assert fold("\u0301\u0308") == ""
    assert fold("   ") == ""


def test_names_sort_by_their_search_form_and_shorter_names_first() -> None:
    keys = sorted(name_key(n, ID) for n in ["Ada B", "ada", "Ádám", "Adrian", "ad"])
    assert [k.split("\x1f")[0] for k in keys] == ["ad", "ada", "ada b", "adam", "adrian"]


def test_a_name_key_ends_with_the_id_and_starts_with_every_prefix_of_the_name() -> None:
    key = name_key("Ádám Kovács", ID)
    assert id_of_name_key(key) == ID
    for typed in ("a", "AD", "ádá", "adam k", "Adam Kovacs"):
        assert key.startswith(name_prefix(typed))
    assert not key.startswith(name_prefix("adamk"))


def test_a_trailing_space_in_a_prefix_ends_a_word() -> None:
    assert name_prefix("Ada ") == name_prefix("ada\t") == "ada "
    assert name_key("Ada Lovelace", ID).startswith(name_prefix("ada "))
    assert not name_key("Adam", ID).startswith(name_prefix("ada "))
    assert name_prefix("  ") == ""


def test_a_long_expanding_name_still_fits_an_index_key_and_still_matches_its_prefix() -> None:
    name = "\ufdfa" * 200  # each becomes 18 characters under NFKD
    key = name_key(name, ID)
    assert len(key.encode()) <= MAX_NAME_KEY_BYTES + 1 + len(ID)
    assert key.startswith(name_prefix(name))


def test_tags_compare_case_folded_but_keep_their_accents() -> None:
    assert fold_tag("Math") == fold_tag("MATH") == "math"
    assert fold_tag("Straße") == "strasse"
    assert fold_tag("Café") != fold_tag("cafe")
    assert fold_tag(unicodedata.normalize("NFD", "Café")) == fold_tag("café")


def person(tags: tuple[str, ...], version: int = 1) -> Person:
    now = "2026-01-01T00:00:00.000Z"
    return Person(id=ID, owner="u", name="Ada", tags=tags, created_at=now, updated_at=now, version=version)


def test_a_change_writes_every_tag_it_has_and_removes_the_ones_it_lost() -> None:
    moves = tag_moves(person(("a", "B")), person(("b", "c"), 2))
    assert moves.write == {"b", "c"} and moves.remove == {"a"}


def test_creating_writes_every_tag_and_deleting_removes_every_tag() -> None:
    assert tag_moves(None, person(("Math", "math", "x"))) == ({"math", "x"}, frozenset())
    assert tag_moves(person(("a", "b")), None) == (frozenset(), {"a", "b"})


@pytest.mark.parametrize(
    ("name", "tag", "sort", "expected"),
    [
        (None, None, None, PeopleQuery("created")),
        (None, None, "created", PeopleQuery("created")),
        (None, None, "name", PeopleQuery("name", "")),
        ("Ád", None, None, PeopleQuery("name", "ad")),
        ("Ád", None, "name", PeopleQuery("name", "ad")),
        (None, " Math ", None, PeopleQuery("tag", "math")),
        (None, "Math", "created", PeopleQuery("tag", "math")),
    ],
)
def test_query_strings_name_one_index(
    name: str | None, tag: str | None, sort: str | None, expected: PeopleQuery
) -> None:
    assert parse_query(name, tag, sort) == expected


@pytest.mark.parametrize(
    ("name", "tag", "sort", "says"),
    [
        ("", None, None, "name must hold"),
        ("   ", None, None, "name must hold"),
        ("\u0301", None, None, "name must hold"),
        ("a\x01", None, None, "name must hold"),
        ("a" * 201, None, None, "name must be at most 200"),
        (None, "", None, "tag must be a valid tag"),
        (None, "x" * 51, None, "tag must be a valid tag"),
        (None, "a\x00b", None, "tag must be a valid tag"),
        (None, "\u200b", None, "tag must be a valid tag"),
        (None, None, "age", "sort must be"),
        (None, None, "", "sort must be"),
        ("a", "b", None, "no index serves name=, tag="),
        (None, "b", "name", "no index serves tag=, sort="),
        ("a", None, "created", "no index serves name=, sort="),
    ],
)
def test_bad_or_unservable_queries_name_the_parameter(
    name: str | None, tag: str | None, sort: str | None, says: str
) -> None:
    with pytest.raises(MalformedRequest) as caught:
        parse_query(name, tag, sort)
    assert says in caught.value.detail


def test_an_unservable_combination_lists_the_ones_that_exist() -> None:
    with pytest.raises(MalformedRequest) as caught:
        parse_query("a", "b", None)
    assert "sort=name" in caught.value.detail and "tag=<tag>" in caught.value.detail


def test_a_200_character_prefix_is_accepted() -> None:
    assert parse_query("a" * 200, None, None) == PeopleQuery("name", "a" * 200)


def test_cursor_scopes_differ_by_owner_and_normalised_query_only() -> None:
    assert PeopleQuery("created").scope("u") == "people:u"  # as before search existed
    assert parse_query("ÁD", None, None).scope("u") == parse_query("ad", None, "name").scope("u")
    scopes = {
        parse_query("ad", None, None).scope("u"),
        parse_query("b", None, None).scope("u"),
        parse_query("ad", None, None).scope("v"),
        parse_query(None, "ad", None).scope("u"),
        parse_query(None, None, "name").scope("u"),
        PeopleQuery("created").scope("u"),
    }
    assert len(scopes) == 6


@given(st.text(st.characters(max_codepoint=0x7F)))
def test_ascii_text_folds_as_the_unicode_path_folds_it(text: str) -> None:
    """`fold` skips NFKD and mark stripping for ASCII (the common case): the result is the same."""
    stripped = "".join(c for c in unicodedata.normalize("NFKD", text) if unicodedata.category(c) != "Mn")
    assert fold(text) == unicodedata.normalize("NFC", " ".join(stripped.casefold().split()))
