"""Who may inject faults into the demo: loopback clients, or callers with the fault token."""

import random

import pytest
import typer
from fastapi.testclient import TestClient
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from typer.testing import CliRunner

import aiops_demo.__main__ as demo_main
from aiops_demo import FaultState, build_resource, build_telemetry, create_app
from aiops_demo.fault_access import FAULT_TOKEN_ENV

FAULT = {"route": "/api/checkout", "error_rate": 1.0, "duration_s": 30}
REMOTE = ("10.0.0.7", 41000)
LOOPBACK = ("127.0.0.1", 41000)


@pytest.fixture
def telemetry():
    telemetry = build_telemetry(build_resource(instance_id="test-1"), [InMemoryMetricReader()], [])
    yield telemetry
    telemetry.shutdown()


def make_client(telemetry, peer, token=None):
    app = create_app(
        telemetry,
        FaultState(rng=random.Random(0)),
        payment_delay_s=(0.001, 0.002),
        fault_token=token,
    )
    return TestClient(app, client=peer)


def test_without_a_token_a_remote_client_is_refused_and_nothing_changes(telemetry):
    with make_client(telemetry, REMOTE) as remote:
        refused = remote.post("/faults", json=FAULT)
        assert refused.status_code == 403
        assert (
            FAULT_TOKEN_ENV in refused.json()["detail"] and "10.0.0.7" in refused.json()["detail"]
        )
        assert remote.get("/faults").status_code == 403
        assert remote.delete("/faults").status_code == 403
        assert (
            remote.post("/api/checkout", json={"user_id": 1, "product_ids": [1]}).status_code == 200
        )
        assert remote.get("/health").status_code == 200


def test_without_a_token_a_loopback_client_may_inject(telemetry):
    with make_client(telemetry, LOOPBACK) as local:
        assert local.post("/faults", json=FAULT).status_code == 201
        assert (
            local.post("/api/checkout", json={"user_id": 1, "product_ids": [1]}).status_code == 500
        )


@pytest.mark.parametrize("peer", [REMOTE, LOOPBACK], ids=["remote", "loopback"])
def test_with_a_token_every_caller_must_send_it(telemetry, peer):
    with make_client(telemetry, peer, token="s3cret") as client:
        missing = client.post("/faults", json=FAULT)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = client.post("/faults", json=FAULT, headers={"Authorization": "Bearer nope"})
        assert (wrong.status_code, wrong.json()["detail"]) == (403, "wrong fault token")
        assert client.get("/faults").status_code == 401
        bearer = {"Authorization": "Bearer s3cret"}
        assert client.post("/faults", json=FAULT, headers=bearer).status_code == 201
        assert [f["route"] for f in client.get("/faults", headers=bearer).json()["faults"]] == [
            FAULT["route"]
        ]
        assert client.delete("/faults", headers=bearer).json() == {"cleared": 1}


def test_a_refused_request_is_refused_before_its_body_is_read(telemetry):
    with make_client(telemetry, REMOTE, token="s3cret") as remote:
        assert remote.post("/faults", json={"route": "/nowhere"}).status_code == 401


def test_an_empty_token_is_no_token(telemetry):
    with make_client(telemetry, REMOTE, token="") as remote:
        assert remote.post("/faults", json=FAULT).status_code == 403


@pytest.mark.parametrize(
    ("host", "env", "warned"),
    [
        ("0.0.0.0", {}, True),
        ("0.0.0.0", {FAULT_TOKEN_ENV: "s3cret"}, False),
        ("127.0.0.1", {}, False),
    ],
)
def test_the_service_warns_when_it_listens_beyond_loopback_without_a_token(
    monkeypatch, telemetry, host, env, warned
):
    served = {}
    monkeypatch.setattr(demo_main, "configure_otlp", lambda resource: telemetry)
    monkeypatch.setattr(demo_main.uvicorn, "run", lambda app, **kwargs: served.update(app=app))
    monkeypatch.delenv(FAULT_TOKEN_ENV, raising=False)
    cli = typer.Typer()
    cli.command()(demo_main.main)
    result = CliRunner().invoke(cli, ["--host", host], env=env)
    assert result.exit_code == 0, result.output
    assert ("loopback clients only" in result.stderr) is warned
    assert served["app"].state.runtime.fault_access.token == env.get(FAULT_TOKEN_ENV)
