from __future__ import annotations

import pytest

from chalicelib.errors import Unauthenticated
from chalicelib.web.auth import caller_from_context, groups_from


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["admins", "x"], {"admins", "x"}),
        ("admins", {"admins"}),
        ("[admins, editors]", {"admins", "editors"}),
        ("[admins editors]", {"admins", "editors"}),
        ("[admins]", {"admins"}),
        ("[]", set()),
        (None, set()),
        ("", set()),
    ],
)
def test_groups_are_read_from_the_forms_the_authorizers_produce(raw: object, expected: set[str]) -> None:
    assert groups_from(raw) == expected


def test_caller_comes_from_the_sub_claim_and_admin_group() -> None:
    caller = caller_from_context({"authorizer": {"claims": {"sub": "abc", "cognito:groups": "[admins]"}}})
    assert caller.sub == "abc" and caller.is_admin
    assert not caller_from_context({"authorizer": {"claims": {"sub": "abc"}}}).is_admin


def test_a_group_named_like_admins_is_not_admins() -> None:
    assert not caller_from_context(
        {"authorizer": {"claims": {"sub": "a", "cognito:groups": "administrators"}}}
    ).is_admin


@pytest.mark.parametrize("context", [None, {}, {"authorizer": {}}, {"authorizer": {"claims": {"sub": ""}}}])
def test_no_identity_is_unauthenticated(context: object) -> None:
    with pytest.raises(Unauthenticated):
        caller_from_context(context)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "raw", ["admins]", "[admins", "staff,admins", "admins,staff", " admins", "admins x", "]admins["]
)
def test_legal_group_names_that_only_look_like_admins_are_not_admins(raw: str) -> None:
    """Cognito group names may hold commas and brackets: each of these is one other group."""
    assert "admins" not in groups_from(raw)
    assert not caller_from_context({"authorizer": {"claims": {"sub": "a", "cognito:groups": raw}}}).is_admin
