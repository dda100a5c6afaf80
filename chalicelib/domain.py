"""Person and its rules. No boto3 or PynamoDB here.

The msgspec types below are the single source for both request validation and the
published JSON Schema: each writable field's type (with its constraints) validates that
field, and `PersonInput` ties the fields together.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

import msgspec
from msgspec import Meta

from chalicelib.errors import FieldError, ValidationFailed

# Unicode's format characters (category Cf, as of Unicode 15.1) but the two joiners: zero-width
# spaces, word joiners, byte-order marks, direction overrides, tag characters. In a name or tag
# they make it look like another one, or like nothing at all. A test checks the list against
# the interpreter's own Unicode database.
FORMAT_CHARACTERS: Final = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b\u200e\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
# The zero-width (non-)joiners belong to how some scripts (Persian, Indic) and emoji are
# written: allowed inside the text, never first, last or doubled.
_JOINER = "[\u200c\u200d]"
# No C0/C1 control or format characters; names and tags are trimmed, so they must also hold
# something besides white space. (Lone surrogates cannot arrive: the JSON decoder rejects them.)
_TAG_TEXT = (
    rf"^(?=.*\S)(?!{_JOINER})(?!.*{_JOINER}$)(?!.*{_JOINER}{{2}})[^\x00-\x1f\x7f-\x9f{FORMAT_CHARACTERS}]*$"
)
# A name also needs a letter or a digit (`[^\W_]`: Unicode alphanumerics).
_NAME_TEXT = _TAG_TEXT.replace("^", r"^(?=.*[^\W_])", 1)
# Notes may span lines: tab, LF and CR are allowed there.
_MULTILINE_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
# The WHATWG "valid e-mail address" shape, with a 64-character local part.
_EMAIL = (
    r"^(?=[^@]{1,64}@)[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_PHONE = r"^(?=.*[0-9])[0-9 +\-().]+$"

Name = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=200,
        pattern=_NAME_TEXT,
        description="Trimmed, NFC-normalised; a letter or digit, no control or invisible format characters.",
    ),
]
Email = Annotated[str, Meta(min_length=3, max_length=254, pattern=_EMAIL)]
Phone = Annotated[
    str, Meta(min_length=1, max_length=32, pattern=_PHONE, description="Digits, spaces and +-().")
]
Notes = Annotated[str, Meta(max_length=2000, pattern=_MULTILINE_TEXT)]
Tag = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=50,
        pattern=_TAG_TEXT,
        description="Trimmed, NFC-normalised; no control or invisible format characters.",
    ),
]
Tags = Annotated[
    list[Tag], Meta(max_length=20, description="Distinct tags.", extra_json_schema={"uniqueItems": True})
]


class PersonInput(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The client-writable fields of a person (POST and PUT bodies)."""

    name: Name
    email: Email | None = None
    phone: Phone | None = None
    notes: Notes | None = None
    tags: Tags | None = None


class PersonPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A JSON Merge Patch (RFC 7396) of a person: `null` clears an optional field."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    email: Email | msgspec.UnsetType | None = msgspec.UNSET
    phone: Phone | msgspec.UnsetType | None = msgspec.UNSET
    notes: Notes | msgspec.UnsetType | None = msgspec.UNSET
    tags: Tags | msgspec.UnsetType | None = msgspec.UNSET


class Precondition(msgspec.Struct, frozen=True):
    """An If-Match header: `any_version` for `*`, else the acceptable versions."""

    versions: frozenset[int] = frozenset()
    any_version: bool = False

    def matches(self, version: int) -> bool:
        """Whether a person at `version` meets this precondition."""
        return self.any_version or version in self.versions


class Person(msgspec.Struct, frozen=True, kw_only=True):
    """A stored person as clients see it."""

    id: str
    owner: str
    name: str
    email: str | None = None
    phone: str | None = None
    notes: str | None = None
    tags: tuple[str, ...] = ()
    created_at: str
    updated_at: str
    version: int


WRITABLE: Final = ("name", "email", "phone", "notes", "tags")
READ_ONLY: Final = frozenset(("id", "owner", "created_at", "updated_at", "version"))
_FIELD_TYPES: Final[dict[str, Any]] = {
    "name": Name,
    "email": Email,
    "phone": Phone,
    "notes": Notes,
    "tags": Tags,
}
_MSGSPEC_PATH = re.compile(r" - at `\$[^`]*`$")

# What a validated body becomes: writable field -> new value, None meaning "clear it".
Changes = dict[str, Any]


def _normalise(value: Any) -> Any:
    """Strings are NFC-normalised and trimmed; lists of strings element-wise."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value).strip()
    if isinstance(value, list):
        return [_normalise(item) for item in value]
    return value


_FORMAT = re.compile(f"[{FORMAT_CHARACTERS}]|^{_JOINER}|{_JOINER}$|{_JOINER}{{2}}")


def _text_problem(field: str, text: str) -> str | None:
    """A readable reason (before the pattern's own message) why `text` cannot be a name or tag."""
    found = _FORMAT.search(text)
    if found is not None:
        char = found.group()[0]
        return f"must not hold the invisible format character U+{ord(char):04X} there"
    if field == "name" and text.strip() and not any(char.isalnum() for char in text):
        return "must contain at least one letter or digit"
    return None


def _check_field(name: str, value: Any, errors: list[FieldError]) -> Any:
    value = _normalise(value)
    texts = [value] if name == "name" else value if name == "tags" and isinstance(value, list) else []
    for text in texts:
        problem = _text_problem(name, text) if isinstance(text, str) else None
        if problem is not None:
            errors.append(FieldError(name, problem if name == "name" else f"tag {text!r} {problem}"))
            return None
    try:
        value = msgspec.convert(value, _FIELD_TYPES[name], strict=True)
    except msgspec.ValidationError as exc:
        errors.append(FieldError(name, _MSGSPEC_PATH.sub("", str(exc))))
        return None
    if name == "tags":
        seen: set[str] = set()
        for tag in value:
            if tag in seen:
                errors.append(FieldError("tags", f"duplicate tag {tag!r}; tags must be distinct"))
                return None
            seen.add(tag)
        return tuple(value)
    return value


def valid_tag(value: str) -> str | None:
    """The tag as stored (NFC, trimmed) if `value` is a tag a person may carry, else None."""
    errors: list[FieldError] = []
    checked = _check_field("tags", [value], errors)
    return None if errors or not checked else str(checked[0])


def _valid_whole_body(body: Mapping[str, Any]) -> Changes | None:
    """A whole person body checked in one msgspec conversion: the changes, or None if anything is
    wrong with it (then `validate_body` checks field by field to report every problem).

    The field types' patterns hold every rule `_check_field` checks, so both accept the same bodies.
    """
    try:
        valid = msgspec.convert(
            {key: _normalise(value) for key, value in body.items()}, PersonInput, strict=True
        )
    except msgspec.ValidationError:
        return None
    tags = valid.tags
    if tags is not None and len(set(tags)) != len(tags):
        return None
    return {
        "name": valid.name,
        "email": valid.email,
        "phone": valid.phone,
        "notes": valid.notes,
        "tags": tuple(tags) if tags else None,
    }


def validate_body(body: Mapping[str, Any], mode: Literal["create", "replace", "patch"]) -> Changes:
    """Check a decoded JSON object against the person rules, reporting every bad field.

    `create` and `replace` return every writable field (absent optional ones as None, so
    a replacement clears them); `patch` returns only the fields present in the body.
    """
    if mode != "patch":
        whole = _valid_whole_body(body)
        if whole is not None:
            return whole
    return _validate_fields(body, mode)


def _validate_fields(body: Mapping[str, Any], mode: Literal["create", "replace", "patch"]) -> Changes:
    errors: list[FieldError] = []
    changes: Changes = {}
    for key in body:
        if key in READ_ONLY:
            errors.append(FieldError(key, "is set by the server and cannot be written"))
        elif key not in _FIELD_TYPES:
            errors.append(FieldError(key, "unknown field"))
    for name in WRITABLE:
        if name not in body:
            if mode != "patch":
                if name == "name":
                    errors.append(FieldError("name", "is required"))
                else:
                    changes[name] = None
            continue
        value = body[name]
        if value is None:
            if name == "name":
                errors.append(FieldError("name", "is required and cannot be null"))
            else:
                changes[name] = None
            continue
        checked = _check_field(name, value, errors)
        # An empty tag list and an absent one mean the same: no tags.
        changes[name] = checked if checked != () else None
    if errors:
        raise ValidationFailed(errors)
    return changes


def utc_now() -> str:
    """The current time as RFC 3339 UTC with millisecond precision."""
    return format_time(datetime.now(UTC))


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds: `2026-01-02T03:04:05.678Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def canonical_id(raw: str) -> str | None:
    """The canonical (upper-case) form of a person id, or None if it cannot be one."""
    if len(raw) != 26:
        return None
    upper = raw.upper()
    return upper if _ULID.match(upper) else None


def new_id() -> str:
    """A fresh URL-safe, time-sortable id (ULID)."""
    from ulid import ULID

    return str(ULID())
