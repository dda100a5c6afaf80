"""Every exception in the Schemathesis settings is documented design, citing its README section."""

from __future__ import annotations

import re
import tomllib

from devstack import ROOT

SETTINGS = ROOT / "tests" / "e2e" / "schemathesis.toml"


def test_every_fuzzing_exception_names_a_readme_section_that_exists() -> None:
    text = SETTINGS.read_text()
    assert tomllib.loads(text)["checks"]["enabled"] is True
    headings = {
        line.lstrip("#").strip().replace("`", "")
        for line in (ROOT / "README.md").read_text().splitlines()
        if line.startswith("#")
    }
    entries = text.split("[[operations]]")[1:]
    assert entries
    for entry in entries:
        cited = re.findall(r'README "([^"]+)"(?: and "([^"]+)")?', entry)
        sections = {name for pair in cited for name in pair if name}
        assert sections, entry
        assert sections <= headings, sections - headings
