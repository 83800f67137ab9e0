"""Fixtures shared by every tier."""

import socket

import pytest


@pytest.fixture(scope="session")
def free_port():
    """A function that returns a port nothing listens on right now."""

    def pick() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    return pick
