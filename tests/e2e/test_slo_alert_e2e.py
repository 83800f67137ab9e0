"""A fault in the demo service pages through the whole stack: SDK → collector → Kafka → decode → sli → aiops.alerts → Alertmanager.

The stack runs the default spec (``slo/examples/demo.yaml``, SRE Workbook
windows): a 100% error burst on ``/api/checkout`` exceeds 14.4x the budget
in both the 5m and the 1h window at once, since the stack is younger than an hour.
"""

from __future__ import annotations

import time

import httpx
import pytest

from aiops.schemas.alerts import AlertV1
from aiops.tail import follow
from aiops_producers.loadgen import run_load

pytestmark = pytest.mark.e2e


def _checkout_page(record) -> bool:
    value = record.value or {}
    labels = value.get("labels") or {}
    return (
        labels.get("slo") == "api-availability"
        and labels.get("severity") == "page"
        and labels.get("http_route") == "/api/checkout"
    )


def test_an_error_burst_fires_one_page_on_the_alerts_topic(local_stack):
    settings = local_stack
    httpx.post(
        f"{settings.demo_url}/faults",
        json={"route": "/api/checkout", "error_rate": 1.0, "duration_s": 120},
    ).raise_for_status()
    try:
        sent = run_load(settings.demo_url, rate=30, requests=300, seed=11, progress=False)
    finally:
        httpx.delete(f"{settings.demo_url}/faults").raise_for_status()
    assert any(status == 500 for (route, status) in sent.counts if route == "/api/checkout")

    events: list[AlertV1] = []
    deadline = time.monotonic() + 120
    for record in follow(
        settings, settings.topic_alerts, from_beginning=True, idle_timeout_s=90, keep=_checkout_page
    ):
        events.append(AlertV1.model_validate(record.value))
        if any(e.status == "firing" for e in events) or time.monotonic() > deadline:
            break
    firing = [e for e in events if e.status == "firing"]
    assert firing, "a 100% error burst on /api/checkout must page"
    alert = firing[0]
    assert (
        alert.labels["alertname"] == "DemoApiAvailability"
        and alert.labels["service"] == "demo-service"
    )
    assert f":{settings.prometheus_port}/graph" in alert.generatorURL
    assert "burn rate" in alert.annotations["description"]
    assert len({e.id for e in firing}) == len(firing), "one firing event per episode"

    in_alertmanager = _wait_for_alertmanager(settings, alert)
    assert in_alertmanager is not None, "the forwarder must post the page to Alertmanager"
    assert in_alertmanager["labels"] == alert.labels


def _wait_for_alertmanager(settings, alert: AlertV1, timeout_s: float = 60.0) -> dict | None:
    """The alert as Alertmanager's API v2 lists it, once the stack's forwarder has posted it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for listed in httpx.get(
            f"{settings.alertmanager_base_url}/api/v2/alerts", timeout=5
        ).json():
            if listed["labels"] == alert.labels:
                return listed
        time.sleep(1)
    return None
