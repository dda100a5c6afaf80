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
        ("admins,editors", {"admins", "editors"}),
        (None, set()),
        ("", set()),
    ],
)
def test_groups_are_normalised_from_every_shape(raw: object, expected: set[str]) -> None:
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
