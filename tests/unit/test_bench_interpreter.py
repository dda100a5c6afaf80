"""How the benchmark finds the interpreter Lambda runs, and says which one it used."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench import interpreter


def test_version_of_reads_a_running_interpreter() -> None:
    assert interpreter.version_of(sys.executable) == tuple(sys.version_info[:3])


def test_version_of_an_interpreter_that_does_not_run_is_none(tmp_path: Path) -> None:
    broken = tmp_path / "python3.13"
    broken.write_text("#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n")
    broken.chmod(0o755)
    assert interpreter.version_of(str(broken)) is None
    assert interpreter.version_of(str(tmp_path / "missing")) is None


def test_bench_python_names_the_chosen_interpreter_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_PYTHON", sys.executable)
    assert interpreter.find() == sys.executable


def test_a_shim_that_does_not_run_is_skipped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shim = tmp_path / "python3.13"
    shim.write_text("#!/bin/sh\nexit 127\n")
    shim.chmod(0o755)
    monkeypatch.delenv("BENCH_PYTHON", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no pyenv either
    assert interpreter.find() is None


def test_without_the_bench_venv_the_fallback_says_it_is_not_the_runtime(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(interpreter, "VENV", tmp_path / "no-venv")
    chosen = interpreter.bench_python()
    assert chosen.executable == sys.executable
    assert "not the Lambda runtime's" in chosen.describe()
