"""The project's clients over SASL_SSL against a real broker: the local Kafka with a SCRAM-SHA-512 listener over TLS.

The CA and the broker certificate are made for the test (``support.certificates``),
the password is random and reaches the clients only through their ``AIOPS_*``
environment (``aiops.settings.environment``), as a deployment's Secret would.
The worker, ``aiops alerts tail`` and the forwarder connect with the project's
settings (``aiops.kafka_config``); with a wrong password each exits within
seconds with status 78 and an error that names the user and the variables.
"""

import json
import os
import secrets
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from confluent_kafka import Producer

from aiops.cli.tail import follow
from aiops.decode.points_v2 import points_of
from aiops.kafka_config import client_config
from aiops.schemas import AlertV1
from aiops.settings import Settings, environment
from aiops.stack.collector import collector_component, ensure_collector
from aiops.stack.kafka import SaslSslListener, add_scram_user, local_kafka
from aiops.stack.local import worker_component
from aiops.stack.process import ManagedProcess
from aiops.topics import create_topics, state_topics
from integration.conftest import WORKER_TOPICS, isolated_settings
from integration.test_collector_codecs import _post_counters
from integration.test_decode_agent import SECOND, START, counter_payload
from support.certificates import write_ca_and_broker

pytestmark = pytest.mark.integration

USER = "aiops"
COLLECTOR_PORTS = (
    "collector_otlp_grpc_port",
    "collector_otlp_http_port",
    "collector_prometheus_port",
    "collector_telemetry_port",
    "collector_health_port",
)


@pytest.fixture(scope="module")
def secure(tmp_path_factory, free_port):
    """``make(password=...)``: settings of a worker of its own on a broker whose clients must use SASL_SSL."""
    directory = tmp_path_factory.mktemp("sasl-ssl")
    ca, keystore = write_ca_and_broker(directory, hosts=("127.0.0.1", "localhost"))
    plain = isolated_settings(directory / "stack", free_port)
    listener = SaslSslListener(free_port(), keystore)
    password = secrets.token_urlsafe(24)
    with local_kafka(plain, sasl_ssl=listener):
        add_scram_user(plain, USER, password)

        def make(password: str = password) -> Settings:
            run = uuid.uuid4().hex[:8]
            return Settings(
                stack_dir=directory / run,
                kafka_bootstrap_servers=f"127.0.0.1:{listener.port}",
                kafka_security_protocol="SASL_SSL",
                kafka_sasl_mechanism="SCRAM-SHA-512",
                kafka_sasl_username=USER,
                kafka_sasl_password=password,
                kafka_ssl_ca_location=str(ca),
                faust_app_id=f"aiops-test-{run}",
                faust_web_port=free_port(),
                **{f"topic_{name}": f"{name}.{run}" for name in WORKER_TOPICS},
            )

        yield make


def aiops(settings: Settings, *args: str, **kwargs) -> subprocess.Popen:
    """``aiops <args>`` in a child process that sees ``settings`` (password included) in its environment only."""
    return subprocess.Popen(
        [sys.executable, "-m", "aiops", *args],
        env={**os.environ, **environment(settings)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


class _Alertmanager(BaseHTTPRequestHandler):
    """Alertmanager's POST /api/v2/alerts, recording what it is sent: the forwarder's Kafka side is under test."""

    received: ClassVar[list] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.extend(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def an_alert() -> AlertV1:
    return AlertV1.firing(
        {"alertname": "SaslSslCheck", "severity": "page", "service": "demo"},
        {"summary": "over SASL_SSL"},
        datetime.now(UTC),
        "http://127.0.0.1:9090",
    )


@pytest.mark.timeout(240)
def test_worker_alerts_tail_and_forwarder_work_over_sasl_ssl(secure):
    settings = secure()
    create_topics(settings, extra=state_topics(settings))  # the admin client over SASL_SSL
    producer = Producer(client_config(settings))
    alert = an_alert()
    producer.produce(
        settings.topic_otlp_metrics, key=b"r", value=counter_payload(5, START + SECOND)
    )
    producer.produce(
        settings.topic_alerts,
        key=alert.id.encode(),
        value=alert.model_dump_json(by_alias=True).encode(),
    )
    assert producer.flush(10) == 0

    worker = ManagedProcess(worker_component(settings), settings)
    worker.start()
    alertmanager = ThreadingHTTPServer(("127.0.0.1", 0), _Alertmanager)
    threading.Thread(target=alertmanager.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{alertmanager.server_address[1]}"
    forwarder = aiops(
        settings.model_copy(update={"alertmanager_url": url}), "forward", "alertmanager"
    )
    try:
        tail = aiops(settings, "alerts", "tail", "--from-beginning", "--limit", "1", "--json")
        out, err = tail.communicate(timeout=60)
        assert tail.returncode == 0, err
        assert json.loads(out)["labels"]["alertname"] == "SaslSslCheck"

        record = next(
            follow(settings, settings.topic_points, from_beginning=True, idle_timeout_s=60)
        )
        assert [p["value"] for p in points_of(record.value)] == [5.0], "the worker decoded it"

        deadline = time.monotonic() + 60
        while not any(a["labels"]["alertname"] == "SaslSslCheck" for a in _Alertmanager.received):
            assert forwarder.poll() is None, forwarder.communicate()[1]
            assert time.monotonic() < deadline, "the forwarder did not post the alert"
            time.sleep(0.5)
    finally:
        forwarder.terminate()
        forwarder.communicate(timeout=30)
        alertmanager.shutdown()
        worker.stop()


@pytest.mark.timeout(120)
def test_a_wrong_password_is_refused_with_a_clear_error_not_a_hang(secure):
    settings = secure(password="not-the-password")
    started = time.monotonic()
    children = {
        "worker": aiops(settings, "worker"),
        "alerts tail": aiops(settings, "alerts", "tail"),
        "forwarder": aiops(settings, "forward", "alertmanager"),
    }
    for name, child in children.items():
        try:
            _, err = child.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            pytest.fail(f"{name} hangs on a wrong password")
        assert child.returncode == os.EX_CONFIG, (name, err)
        assert f"refused user '{USER}' (SCRAM-SHA-512)" in err, (name, err)
        assert "AIOPS_KAFKA_SASL_PASSWORD" in err and "Authentication failed" in err, (name, err)
        assert "not-the-password" not in err, "the password is never printed"
    print(f"three clients refused in {time.monotonic() - started:.1f}s")


@pytest.mark.timeout(240)
def test_the_collector_exports_over_sasl_ssl_and_says_why_when_refused(secure, free_port, tmp_path):
    binary = ensure_collector(Settings())
    ports = {name: free_port() for name in COLLECTOR_PORTS}
    settings = secure().model_copy(update={"stack_dir": tmp_path / "good", **ports})
    create_topics(settings)
    collector = ManagedProcess(collector_component(settings, binary), settings)
    collector.start()
    try:
        _post_counters(settings, "sasl-ssl", routes=3)
        record = next(
            follow(settings, settings.topic_otlp_metrics, from_beginning=True, idle_timeout_s=60)
        )
    finally:
        collector.stop()
    assert record.topic == settings.topic_otlp_metrics

    refused = secure(password="not-the-password").model_copy(
        update={"stack_dir": tmp_path / "refused", **ports}
    )
    collector = ManagedProcess(collector_component(refused, binary), refused)
    collector.start()
    try:
        _post_counters(refused, "sasl-ssl-refused", routes=3)
        deadline = time.monotonic() + 60
        while "SASL_AUTHENTICATION_FAILED" not in collector.tail(200):
            assert time.monotonic() < deadline, collector.tail(40)
            time.sleep(0.5)
    finally:
        collector.stop()
    assert "not-the-password" not in collector.tail(10_000)
