"""Search keys: how names and tags are normalised for matching and sorting. Pure functions.

A name matches a prefix when its *search form* starts with the prefix's search form:
Unicode compatibility decomposition (NFKD, so "ﬁ" is "fi" and "Ａ" is "A"), combining marks
(category Mn: accents, diacritics) removed, case folded ("ß" is "ss", "Σ" and "ς" are "σ"),
white space runs collapsed to one space, and recomposed (NFC). Tags compare case-folded only
(a tag is a label the user typed; "Café" and "cafe" are different tags, "Math" and "math" not).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from typing import Final, Literal, NamedTuple

from chalicelib.domain import Person, valid_tag
from chalicelib.errors import MalformedRequest

# Lower than any character a name may hold (names have no control characters), so a name
# sorts before every longer name it is a prefix of: "ad" < "ad b" < "ada".
NAME_KEY_SEPARATOR: Final = "\x1f"
# A GSI key may hold at most 1,024 bytes. NFKD can grow a 200-character name far beyond that
# (U+FDFA becomes 18 characters), so the search form in a key is cut to this many bytes; a
# prefix is cut the same way, so every match survives the cut.
MAX_NAME_KEY_BYTES: Final = 960
MAX_PREFIX_LENGTH: Final = 200
MAX_TAG_LENGTH: Final = 50


def fold(text: str) -> str:
    """The search form of a name or prefix (see the module docstring); may be empty."""
    if text.isascii():  # no compatibility forms or combining marks: only case and spaces
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(char for char in decomposed if unicodedata.category(char) != "Mn")
    folded = " ".join(stripped.casefold().split())
    return unicodedata.normalize("NFC", folded)


def _cut(text: str, limit: int = MAX_NAME_KEY_BYTES) -> str:
    """`text` cut to at most `limit` UTF-8 bytes, at a character boundary."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", "ignore")


def name_prefix(prefix: str) -> str:
    """The key prefix a name search looks for (empty when the prefix has nothing to match on).

    A trailing space is kept (as one space): "ada " finds "Ada Lovelace" but not "Adam".
    """
    folded = fold(prefix)
    if folded and prefix[-1:].isspace():
        folded += " "
    return _cut(folded)


def name_key(name: str, person_id: str) -> str:
    """The sort key of a person in the name index: unique (the id ends it) and in name order."""
    return f"{_cut(fold(name))}{NAME_KEY_SEPARATOR}{person_id}"


def id_of_name_key(key: str) -> str:
    """The person id a name key ends with."""
    return key.rpartition(NAME_KEY_SEPARATOR)[2]


def fold_tag(tag: str) -> str:
    """A tag's index form: NFC (as stored) and case-folded."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", tag).strip().casefold())


def folded_tags(tags: Iterable[str]) -> frozenset[str]:
    """The distinct index forms of a person's tags ("Math" and "math" are one entry)."""
    return frozenset(fold_tag(tag) for tag in tags)


class TagMoves(NamedTuple):
    """What one change does to a person's tag entries, as folded tags."""

    write: frozenset[str]
    remove: frozenset[str]


def tag_moves(before: Person | None, after: Person | None) -> TagMoves:
    """The tag entries a change writes (every tag the person now has: the copy in each changed)
    and removes (tags the person had and no longer has; all of them on delete)."""
    old = folded_tags(before.tags) if before is not None else frozenset()
    new = folded_tags(after.tags) if after is not None else frozenset()
    return TagMoves(write=new, remove=old - new)


class PeopleQuery(NamedTuple):
    """What `GET /people` asks for: `kind` and its normalised value (a name prefix or a folded tag)."""

    kind: Literal["created", "name", "tag"]
    value: str = ""

    def scope(self, owner: str) -> str:
        """What a cursor of this listing is bound to: the owner and the normalised query."""
        if self.kind == "created":
            return f"people:{owner}"  # as before searches existed: those cursors stay valid
        return "people-search:" + json.dumps([owner, self.kind, self.value])


ALL_PEOPLE: Final = PeopleQuery("created")

# Each is one Query on one index; anything else would need a second read or a filter.
COMBINATIONS: Final = (
    "no search (creation order)",
    "sort=name",
    "name=<prefix> (sorted by name; sort=name may be given)",
    "tag=<tag> (creation order)",
)


def parse_query(name: str | None, tag: str | None, sort: str | None) -> PeopleQuery:
    """The listing `name`, `tag` and `sort` ask for; MalformedRequest naming the bad parameter."""
    if sort is not None and sort not in ("name", "created"):
        raise MalformedRequest(f"sort must be 'name' or 'created', not {sort[:64]!r}")
    unservable = (name is not None and (tag is not None or sort == "created")) or (
        tag is not None and sort == "name"
    )
    if unservable:
        given = ", ".join(
            f"{key}=" for key, value in (("name", name), ("tag", tag), ("sort", sort)) if value is not None
        )
        raise MalformedRequest(
            f"no index serves {given} together in one query; these exist: {'; '.join(COMBINATIONS)}"
        )
    if name is not None:
        if len(name) > MAX_PREFIX_LENGTH:
            raise MalformedRequest(f"name must be at most {MAX_PREFIX_LENGTH} characters")
        prefix = name_prefix(name) if not any(unicodedata.category(c) in ("Cc", "Cs") for c in name) else ""
        if not prefix:
            raise MalformedRequest("name must hold at least one letter, digit or symbol to search for")
        return PeopleQuery("name", prefix)
    if tag is not None:
        stored = valid_tag(tag) if len(tag) <= MAX_TAG_LENGTH else None
        if stored is None:
            raise MalformedRequest(
                "tag must be a valid tag: 1 to 50 characters, not only white space, no control characters"
            )
        return PeopleQuery("tag", fold_tag(stored))
    return PeopleQuery("name") if sort == "name" else ALL_PEOPLE
