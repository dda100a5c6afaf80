"""How the profile section attributes a profiled function to a package."""

from __future__ import annotations

import pytest

from bench.common import ROOT
from bench.profile import _beyond, only_in, package_of


@pytest.mark.parametrize(
    ("filename", "function", "package"),
    [
        ("/x/.venv/lib/python3.13/site-packages/botocore/hooks.py", "_emit", "botocore"),
        ("/x/lib/python3.13/site-packages/typing_extensions.py", "<module>", "typing_extensions"),
        (str(ROOT / "chalicelib" / "http.py"), "json_response", "chalicelib"),
        (str(ROOT / "app.py"), "<module>", "app"),
        ("<frozen importlib._bootstrap>", "_find_and_load", "import machinery"),
        ("<frozen _collections_abc>", "get", "stdlib collections_abc"),
        ("~", "<built-in method marshal.loads>", "import machinery"),
        ("~", "<method 'decode' of 'msgspec.json.Decoder' objects>", "msgspec (C)"),
        ("~", "<built-in method builtins.isinstance>", "builtins (C)"),
        ("~", "<method 'join' of 'str' objects>", "builtins (C)"),
    ],
)
def test_functions_are_attributed_to_their_package(filename: str, function: str, package: str) -> None:
    assert package_of(filename, function) == package


def test_beyond_the_floor_keeps_what_ours_spends_more_largest_first() -> None:
    ours = {"pynamodb": 0.010, "botocore": 0.050, "chalicelib": 0.004}
    floor = {"botocore": 0.049, "chalice": 0.001}
    assert list(_beyond(ours, floor, 0.0005).items()) == [
        ("pynamodb", 0.010),
        ("chalicelib", 0.004),
        ("botocore", pytest.approx(0.001)),
    ]


def test_imports_only_ours_makes_are_summed_by_package() -> None:
    ours = {"botocore.client": 0.020, "pynamodb.models": 0.003, "pynamodb.attributes": 0.002, "app": 0.001}
    floor = {"botocore.client": 0.010}
    assert only_in(ours, floor) == {"pynamodb": pytest.approx(0.005), "app": 0.001}
