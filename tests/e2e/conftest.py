"""The whole local stack for the e2e tier, on ports of its own and in a temporary folder.

Every port is the default plus 10000 (or ``AIOPS_E2E_PORT_OFFSET``), so a dev stack
started with ``aiops stack up`` keeps running undisturbed, and two e2e runs on one machine
can use different offsets; the jar cache and collector build are the shared ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from aiops.settings import PORT_FIELDS, Settings
from aiops.stack.local import down, up

PORT_OFFSET = int(os.environ.get("AIOPS_E2E_PORT_OFFSET", "10000"))


def e2e_settings(stack_dir, port_offset: int = PORT_OFFSET, **overrides) -> Settings:
    """The default settings with every port shifted and a stack dir of the test session's own.

    A module that needs a stack of its own (another SLO file, say) passes a
    ``port_offset`` of its own, so it can run beside the session's stack, and
    any other setting as ``overrides``.
    """
    defaults = Settings()
    ports = {name: getattr(defaults, name) + port_offset for name in PORT_FIELDS}
    return Settings(
        **ports,
        stack_dir=stack_dir,
        kafka_bootstrap_servers=f"127.0.0.1:{ports['kafka_port']}",
        kafka_security_protocol="PLAINTEXT",
        tempo_otlp_endpoint=f"127.0.0.1:{4417 + port_offset}",
        **overrides,
    )


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory) -> Iterator[Settings]:
    """Kafka, collector, Prometheus, the worker and the demo service, up for the session."""
    settings = e2e_settings(tmp_path_factory.mktemp("e2e-stack"))
    try:
        up(settings, print, with_load=False)
        yield settings
    finally:
        down(settings, print)
