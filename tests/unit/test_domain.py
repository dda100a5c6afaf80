from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import canonical_id, new_id, validate_body
from chalicelib.errors import ValidationFailed


def errors_of(body: dict[str, object], mode: str = "create") -> dict[str, str]:
    with pytest.raises(ValidationFailed) as info:
        validate_body(body, mode)  # type: ignore[arg-type]
    return {e.field: e.message for e in info.value.errors}


def test_name_is_trimmed_and_nfc_normalised() -> None:
    changes = validate_body({"name": "  Jose\u0301  "}, "create")
    assert changes["name"] == "Jos\u00e9"


def test_create_fills_absent_optional_fields_with_none() -> None:
    assert validate_body({"name": "Ada"}, "create") == {
        "name": "Ada",
        "email": None,
        "phone": None,
        "notes": None,
        "tags": None,
    }


def test_patch_returns_only_present_fields() -> None:
    assert validate_body({"email": None, "notes": "hi"}, "patch") == {"email": None, "notes": "hi"}


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "a\x00b", "tab\there", 7, ["Ada"]])
def test_bad_names_are_rejected(name: object) -> None:
    assert "name" in errors_of({"name": name})


def test_a_name_of_200_characters_after_trimming_is_accepted() -> None:
    assert validate_body({"name": " " + "x" * 200 + " "}, "create")["name"] == "x" * 200


def test_every_bad_field_is_reported_at_once() -> None:
    errors = errors_of(
        {"name": "", "email": "nope", "phone": "call me", "notes": "n" * 2001, "tags": ["a", "a"], "x": 1}
    )
    assert set(errors) == {"name", "email", "phone", "notes", "tags", "x"}
    assert errors["x"] == "unknown field"
    assert "distinct" in errors["tags"]


@pytest.mark.parametrize("email", ["ada@example.com", "a.b+c@sub.example.org"])
def test_valid_emails_pass(email: str) -> None:
    assert validate_body({"name": "Ada", "email": email}, "create")["email"] == email


@pytest.mark.parametrize(
    "email",
    [
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "a b@example.com",
        "x" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",
    ],
)
def test_invalid_emails_fail(email: str) -> None:
    assert "email" in errors_of({"name": "Ada", "email": email})


@pytest.mark.parametrize("phone", ["+44 (0)20 7946-0958", "555.1234"])
def test_valid_phones_pass(phone: str) -> None:
    assert validate_body({"name": "Ada", "phone": phone}, "create")["phone"] == phone


@pytest.mark.parametrize("phone", ["call me", "+-()", "1" * 33, "12#34"])
def test_invalid_phones_fail(phone: str) -> None:
    assert "phone" in errors_of({"name": "Ada", "phone": phone})


def test_notes_may_span_lines_but_not_hold_other_control_characters() -> None:
    assert (
        validate_body({"name": "A", "notes": "line 1\nline 2\ttab"}, "create")["notes"]
        == "line 1\nline 2\ttab"
    )
    assert "notes" in errors_of({"name": "A", "notes": "bell\x07"})


def test_tags_limits() -> None:
    assert validate_body({"name": "A", "tags": [f"t{i}" for i in range(20)]}, "create")["tags"] == tuple(
        f"t{i}" for i in range(20)
    )
    assert "tags" in errors_of({"name": "A", "tags": [f"t{i}" for i in range(21)]})
    assert "tags" in errors_of({"name": "A", "tags": ["x" * 51]})
    assert "tags" in errors_of({"name": "A", "tags": [" "]})
    assert "tags" in errors_of({"name": "A", "tags": "not-a-list"})


def test_an_empty_tag_list_means_no_tags() -> None:
    assert validate_body({"name": "A", "tags": []}, "create")["tags"] is None


def test_server_fields_are_read_only() -> None:
    errors = errors_of({"name": "A", "id": "x", "version": 3, "owner": "me"})
    assert set(errors) == {"id", "version", "owner"}
    assert "server" in errors["id"]


def test_name_cannot_be_cleared_by_a_patch_or_omitted_by_a_replacement() -> None:
    assert "name" in errors_of({"name": None}, "patch")
    assert "name" in errors_of({"email": "a@example.com"}, "replace")


def test_ids_are_time_sortable_ulids_and_case_insensitive() -> None:
    first, second = new_id(), new_id()
    assert canonical_id(first) == first
    assert canonical_id(first.lower()) == first
    assert len(first) == 26 and first[:8] <= second[:8]
    assert canonical_id("not-an-id") is None
    assert canonical_id("I" * 26) is None  # I, L, O and U are not in the alphabet
    assert canonical_id("0" * 1000) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "\u200b"}, "name"),
        ({"name": "\u2060\ufeff"}, "name"),
        ({"name": "\u202eevil"}, "name"),
        ({"name": "Ada\u200b"}, "name"),
        ({"name": "\u200dAda"}, "name"),  # a joiner must sit between two visible characters
        ({"name": "...!"}, "name"),
        ({"name": "Ada", "tags": ["x", "x\u200b"]}, "tags"),
        ({"name": "Ada", "tags": ["\u2066x\u2069"]}, "tags"),
    ],
)
def test_invisible_or_letterless_text_is_rejected(body: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_body(body, "create")
    assert [e.field for e in caught.value.errors] == [field]


@pytest.mark.parametrize(
    "name", ["Ada", "李", "٣", "\U0001f469\u200d\U0001f52c Ada", "\u0645\u06cc\u200c\u062e\u0648"]
)
def test_names_with_a_letter_or_digit_and_joiners_in_words_are_accepted(name: str) -> None:
    assert validate_body({"name": name}, "create")["name"] == name


def test_the_format_character_list_covers_the_interpreters_unicode_database() -> None:
    """Every Cf character this interpreter knows (but the two joiners) is refused."""
    import re
    import sys
    import unicodedata

    from chalicelib.domain import FORMAT_CHARACTERS

    listed = re.compile(f"[{FORMAT_CHARACTERS}]")
    known = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"]
    missing = [f"U+{ord(c):04X}" for c in known if c not in "\u200c\u200d" and not listed.match(c)]
    assert missing == []
    assert not listed.match("\u200c") and not listed.match("\u200d")


_field_values = (
    st.none()
    | st.text(max_size=12)
    | st.sampled_from(["Ada", " Ada ", "a@b.co", "+1 (2) 3", "x\u200dy", "\u200b", "e\u0301", "_", "Ada\x00"])
    | st.lists(st.sampled_from(["a", "A", "a ", "\u200b", "", "b"]) | st.text(max_size=4), max_size=4)
    | st.integers()
)
_bodies = st.dictionaries(
    st.sampled_from(["name", "email", "phone", "notes", "tags", "id", "extra"]), _field_values, max_size=6
)


@given(_bodies)
def test_the_one_conversion_path_agrees_with_the_field_by_field_checks(body: dict[str, Any]) -> None:
    """A body the single msgspec conversion accepts gives exactly the field-by-field changes."""
    from chalicelib.domain import _valid_whole_body, _validate_fields

    whole = _valid_whole_body(body)
    try:
        fields = _validate_fields(body, "create")
    except ValidationFailed:
        assert whole is None
        return
    assert whole is None or whole == fields


def test_a_valid_body_takes_the_one_conversion_path() -> None:
    from chalicelib.domain import _valid_whole_body

    body = {"name": " Ade\u0301 ", "email": "a@b.co", "tags": ["x", "y"], "notes": None}
    assert _valid_whole_body(body) == {
        "name": "Ad\u00e9", "email": "a@b.co", "phone": None, "notes": None, "tags": ("x", "y"),
    }  # fmt: skip
    assert _valid_whole_body({"name": "Ada", "tags": ["x", "x"]}) is None  # reported field by field


@given(st.datetimes(timezones=st.timezones()))
def test_times_are_rfc3339_utc_with_milliseconds(moment: datetime) -> None:
    import re

    from chalicelib.domain import format_time

    text = format_time(moment)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text), text
    utc = moment.astimezone(UTC)
    assert datetime.fromisoformat(text) == utc.replace(microsecond=utc.microsecond // 1000 * 1000)
