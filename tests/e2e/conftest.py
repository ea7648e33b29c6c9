"""Shared fixtures for kumo's end-to-end tests.

Environment (set by meson, or by hand):
  KUMO_BUILD   the build directory holding kumo-vmm (default: <repo>/build)
"""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("KUMO_BUILD", ROOT / "build"))


@pytest.fixture(scope="session")
def vmm():
    path = BUILD / "kumo-vmm"
    if not path.exists():
        pytest.fail(f"{path} is missing: build first (scripts/build.sh)")
    return str(path)


@pytest.fixture(scope="session")
def progs():
    return BUILD / "tests" / "e2e" / "progs"


def run(cmd, timeout=60, **kw):
    """Run a command, return CompletedProcess with text output."""
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, **kw)
