"""Fixtures shared by every tier, and the doctests of the code a tier covers."""

import socket
from pathlib import Path

import pytest

SOURCES = ("stream-processors", "producers", "demo-service", "tests/support")
"""Where the doctests live: ``pytest`` collects them with ``--doctest-modules``."""


def pytest_sessionstart(session: pytest.Session) -> None:
    """``pytest tests/unit`` (or any whole tier) also runs every doctest, as a bare ``pytest`` does.

    The doctests are the examples in the docstrings of the code the tiers
    test; a tier run alone would otherwise skip them, because pytest collects
    doctests only from the paths it is given. A run of single test files or
    test ids stays as narrow as asked.
    """
    root = session.config.rootpath
    given = [Path(arg.split("::")[0]).resolve() for arg in session.config.args]
    tests = (root / "tests").resolve()
    sources = [(root / source).resolve() for source in SOURCES]
    whole_tier = any(path == tests or (path.is_dir() and path.parent == tests) for path in given)
    if whole_tier:
        session.config.args.extend(
            str(source)
            for source in sources
            if not any(source == path or source.is_relative_to(path) for path in given)
        )


@pytest.fixture(scope="session")
def free_port():
    """A function that returns a port nothing listens on right now."""

    def pick() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    return pick
