"""What ``aiops bench pipeline`` measures: the whole pipeline through a real Kafka, at stepped rates.

It starts a Kafka broker of its own (or uses ``--bootstrap``), creates a
private set of topics, starts ``workers`` Faust workers in one consumer
group, then floods the metrics topic with a synthetic fleet's OTLP
(:class:`~aiops.bench.synthetic.Fleet`: gauges, monotonic counters,
up-down sums and histograms with realistic label sets), one step per rate.

Event time is compressed: every round of exports is 10 s after the one
before, however fast the rounds are sent, so a rate is points per second of
wall-clock time. Per step it reports:

- **offered** and **sustained** points/s: decoded points per second over the
  step (the workers' ``aiops_decode_points_total``); a step is sustained when
  that is at least 90% of the offered rate and the consumer group's lag on
  the metrics and points topics is at most five seconds of records at the
  end of the step (Faust commits offsets every few seconds, so a little lag
  is only bookkeeping);
- **delay** p50 and p99: from sending a round to its first score on the
  scores topic, per round and resource;
- **RSS per live series**: the growth of the workers' resident memory from
  idle (before the first round) over the fleet's series, and the total;
- **CPU by stage**: each worker's own accounting of decode, SLI and detect
  (``aiops_stage_cpu_seconds_total``), the rest of the worker (Kafka I/O,
  serialisation, Faust), the broker and this process (the producer).

Steps stop at the first one that is not sustained: beyond it, lag only grows.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from aiops.settings import Settings

__all__ = ["PipelineStep", "run_pipeline_bench"]

Progress = Callable[[str], None]

_INTERVAL_S = 10
_WARMUP_ROUNDS = 3
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class PipelineStep:
    """One rate's measurements (rates in points per second of wall-clock time)."""

    offered: float
    sent_points: int
    seconds: float
    decoded_per_s: float
    scored_rounds: int
    sustained: bool
    lag_records: int
    delay_p50_s: float | None
    delay_p99_s: float | None
    rss_bytes: int
    rss_per_series: float
    """(RSS now - RSS of the idle workers) / live series."""
    cpu_s: dict[str, float] = field(default_factory=dict)
    """Seconds of CPU by stage: decode, sli, detect, worker other, broker, producer."""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _samples(port: int) -> dict[tuple[str, tuple], float]:
    """The worker's ``/metrics`` samples: (name, sorted labels) → value."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _total(samples: dict, name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and all(dict(sample_labels).get(k) == v for k, v in labels.items())
    )


@contextmanager
def _kafka(settings: Settings, progress: Progress) -> Iterator[tuple[Settings, int | None]]:
    """The broker: ``settings``' bootstrap if it answers, else a local one on free ports (with its pid)."""
    from aiops.stack.kafka import broker_answers, kafka_component, local_bootstrap, local_kafka
    from aiops.stack.process import ManagedProcess

    if broker_answers(settings.kafka_bootstrap_servers):
        yield settings, None
        return
    ports = [_free_port() for _ in range(2)]
    local = settings.model_copy(update={"kafka_port": ports[0], "kafka_controller_port": ports[1]})
    local = local.model_copy(update={"kafka_bootstrap_servers": local_bootstrap(local)})
    with local_kafka(local, progress) as bootstrap:
        pid = ManagedProcess(kafka_component(local), local).pid
        yield local.model_copy(update={"kafka_bootstrap_servers": bootstrap}), pid


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Scores(threading.Thread):
    """Reads the scores topic; the first arrival of each (resource, round time) is a delay sample."""

    def __init__(self, settings: Settings, sent_at: dict[int, float]) -> None:
        super().__init__(daemon=True)
        self.settings, self.sent_at = settings, sent_at
        self.first: dict[tuple[str, int], float] = {}
        self.halt = threading.Event()

    def run(self) -> None:
        from confluent_kafka import Consumer

        from aiops.decode.points_v2 import decode
        from aiops.kafka_config import client_config

        consumer = Consumer(
            {
                **client_config(self.settings),
                "group.id": f"aiops-bench-scores-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "log_level": 0,
            }
        )
        consumer.subscribe([self.settings.topic_scores])
        try:
            while not self.halt.is_set():
                for message in consumer.consume(1000, timeout=0.2):
                    if message.error():
                        continue
                    arrived = time.time()
                    for key in _score_times(decode(message.value())):
                        self.first.setdefault(key, arrived)
        finally:
            consumer.close()

    def delays(self, since_ns: int) -> list[float]:
        return [
            arrived - self.sent_at[t]
            for (_, t), arrived in list(self.first.items())
            if t >= since_ns and t in self.sent_at
        ]


def _score_times(record: dict) -> set[tuple[str, int]]:
    """(service, event time) of the scores in a record of any version (v3 columns, v2 entries, one v1 score)."""
    schema = record.get("schema")
    if schema == "aiops.scores/v3":
        return {(record["service"], t) for t in record["scores"]["time_unix_nano"]}
    if schema == "aiops.scores/v2":
        return {(record["service"], entry["time_unix_nano"]) for entry in record["scores"]}
    return {(record.get("service", ""), record.get("time_unix_nano", 0))}


def new_pods(payload: bytes, round_index: int) -> bytes:
    """A synthetic payload as if from new pods: its resources' instance ids end in the round's number.

    The synthetic resources' ``service.instance.id`` ends in ``-7f9c``; a
    replacement of the same length keeps the protobuf valid.

    >>> new_pods(b"svc-00-0001-7f9c", 10)
    b'svc-00-0001-000a'
    """
    return payload.replace(b"-7f9c", b"-%04x" % (round_index % 0x10000))


def run_pipeline_bench(
    rates: list[float],
    step_s: float = 30.0,
    workers: int = 1,
    resources: int = 50,
    series: int = 100,
    partitions: int = 12,
    settings: Settings | None = None,
    worker_code: Path | None = None,
    churn: bool = False,
    progress: Progress = print,
) -> list[PipelineStep]:
    """Flood a fresh set of topics at each rate in turn and measure the pipeline; see the module doc.

    With ``churn``, every round after the warm-up comes from new pods (a
    cardinality bomb): each resource's instance id changes, so each round's
    series are all new, and the memory column shows whether the caps hold.

    ``worker_code`` is another checkout of this repository whose worker to
    measure (its ``stream-processors``, ``producers`` and ``demo-service`` go
    first on the workers' ``PYTHONPATH``): the same benchmark before and
    after a change, in one run.
    """
    from confluent_kafka import Producer

    from aiops.bench.synthetic import SECOND, START, Fleet
    from aiops.kafka_config import client_config
    from aiops.stack.local import worker_component
    from aiops.stack.process import ManagedProcess, http_ok
    from aiops.topics import create_topics, group_lag, state_topics

    base = settings or Settings()
    run = uuid.uuid4().hex[:8]
    steps: list[PipelineStep] = []
    with ExitStack() as stack:
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aiops-bench-")))
        kafka_settings, broker_pid = stack.enter_context(
            _kafka(base.model_copy(update={"stack_dir": home}), progress)
        )
        topics = ("otlp_metrics", "otlp_spans", "points", "sli", "scores", "alerts", "deadletter")
        ready = kafka_settings.model_copy(
            update={
                "faust_app_id": f"aiops-bench-{run}",
                "kafka_partitions": partitions,
                **{f"topic_{name}": f"{name}.bench-{run}" for name in topics},
            }
        )
        create_topics(ready, extra=state_topics(ready))
        progress(
            f"topics: {len(topics)} with {partitions} partitions each, app {ready.faust_app_id}"
        )
        procs = []
        for index in range(workers):
            worker = ready.model_copy(
                update={"faust_web_port": _free_port(), "stack_dir": home / f"worker-{index}"}
            )
            component = replace(  # the worker process itself, no restarting launcher: its CPU and memory are measured
                worker_component(worker),
                command=[sys.executable, "-m", "aiops", "worker"],
                healthy=partial(http_ok, f"http://127.0.0.1:{worker.faust_web_port}/metrics"),
            )
            if worker_code is not None:
                rooms = ("stream-processors", "producers", "demo-service")
                path = os.pathsep.join(str(Path(worker_code).resolve() / room) for room in rooms)
                component = replace(component, env={**component.env, "PYTHONPATH": path})
            process = ManagedProcess(component, worker)
            process.start()
            stack.callback(process.stop)
            procs.append((worker, process.pid))
        progress(f"workers: {workers} started")
        progress(f"fleet: {resources} resources x {series} series; building payload templates")
        fleet = Fleet(resources, series)
        producer = Producer(
            {
                **client_config(ready),
                "linger.ms": 20,
                "queue.buffering.max.kbytes": 1_048_576,
                "log_level": 0,
            }
        )
        idle_rss = sum(_rss_bytes(pid) for _, pid in procs)
        sent_at: dict[int, float] = {}
        scores = _Scores(ready, sent_at)
        scores.start()
        stack.callback(scores.halt.set)
        round_index = 0
        me = os.getpid()

        def send_round() -> None:
            nonlocal round_index
            round_index += 1
            t = START + round_index * _INTERVAL_S * SECOND
            for payload in fleet.round(t, _INTERVAL_S):
                if churn and round_index > _WARMUP_ROUNDS:
                    payload = new_pods(payload, round_index)
                while True:
                    try:
                        producer.produce(ready.topic_otlp_metrics, value=payload)
                        break
                    except BufferError:
                        producer.poll(0.05)
            producer.poll(0)
            sent_at[t] = time.time()

        progress(f"warm-up: {_WARMUP_ROUNDS} rounds, every series learnt once")
        for _ in range(_WARMUP_ROUNDS):
            send_round()
        producer.flush(30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(
            group_lag(
                ready, ready.faust_app_id, [ready.topic_otlp_metrics, ready.topic_points]
            ).values()
        ):
            time.sleep(1)
        live_series = fleet.points_per_round
        for rate in rates:
            rounds_per_s = rate / fleet.points_per_round
            before = [(_samples(w.faust_web_port), _cpu_seconds(pid)) for w, pid in procs]
            broker_before = _cpu_seconds(broker_pid) if broker_pid else 0.0
            producer_before = _cpu_seconds(me)
            first_t = START + (round_index + 1) * _INTERVAL_S * SECOND
            started = time.monotonic()
            sent = 0
            next_report = started + 5
            while (elapsed := time.monotonic() - started) < step_s:
                due = int(elapsed * rounds_per_s) + 1
                while sent < due:
                    send_round()
                    sent += 1
                if time.monotonic() >= next_report:
                    next_report += 5
                    lag = sum(
                        group_lag(ready, ready.faust_app_id, [ready.topic_otlp_metrics]).values()
                    )
                    progress(
                        f"  {rate:>9,.0f} points/s offered: {elapsed:4.0f}s, {sent * fleet.points_per_round:,} "
                        f"points sent, lag {lag:,} records"
                    )
                time.sleep(
                    max(0.0, min(0.05, (sent / rounds_per_s) - (time.monotonic() - started)))
                )
            producer.flush(30)
            seconds = time.monotonic() - started
            time.sleep(2)  # let the last round's scores arrive before reading the counters
            after = [(_samples(w.faust_web_port), _cpu_seconds(pid)) for w, pid in procs]
            lag = sum(
                group_lag(
                    ready, ready.faust_app_id, [ready.topic_otlp_metrics, ready.topic_points]
                ).values()
            )
            decoded = sum(
                _total(a, "aiops_decode_points_total") - _total(b, "aiops_decode_points_total")
                for (a, _), (b, _) in zip(after, before)
            )
            cpu: dict[str, float] = {}
            for (a, cpu_after), (b, cpu_before) in zip(after, before):
                stages = 0.0
                for stage in ("decode", "sli", "detect"):
                    spent = _total(a, "aiops_stage_cpu_seconds_total", stage=stage) - _total(
                        b, "aiops_stage_cpu_seconds_total", stage=stage
                    )
                    cpu[stage] = cpu.get(stage, 0.0) + spent
                    stages += spent
                cpu["worker other"] = (
                    cpu.get("worker other", 0.0) + (cpu_after - cpu_before) - stages
                )
            cpu["broker"] = (
                (_cpu_seconds(broker_pid) - broker_before) if broker_pid else float("nan")
            )
            cpu["producer"] = _cpu_seconds(me) - producer_before
            delays = sorted(scores.delays(first_t))
            rss = sum(_rss_bytes(pid) for _, pid in procs)
            records_per_s = rounds_per_s * resources
            decoded_per_s = decoded / seconds
            step = PipelineStep(
                offered=rate,
                sent_points=sent * fleet.points_per_round,
                seconds=seconds,
                decoded_per_s=decoded_per_s,
                scored_rounds=len(delays),
                sustained=decoded_per_s >= 0.9 * rate
                and lag <= max(2 * 5 * records_per_s, 2 * resources),
                lag_records=lag,
                delay_p50_s=statistics.median(delays) if delays else None,
                delay_p99_s=delays[min(len(delays) - 1, int(0.99 * len(delays)))]
                if delays
                else None,
                rss_bytes=rss,
                rss_per_series=(rss - idle_rss) / live_series,
                cpu_s=cpu,
            )
            steps.append(step)
            progress(
                f"step {rate:,.0f} points/s: decoded {step.decoded_per_s:,.0f}/s, lag {lag:,} records, "
                f"{'sustained' if step.sustained else 'NOT sustained'}"
            )
            if not step.sustained:
                break
    return steps
