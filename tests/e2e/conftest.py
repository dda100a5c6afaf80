"""The real local stack (`python -m devstack run`, what `make run` starts) on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack import background
from devstack.background import BackgroundStack


@pytest.fixture(scope="package")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundStack]:
    stack = background.start(tmp_path_factory.mktemp("stack"))
    try:
        yield stack
    finally:
        background.stop(stack)
