"""The SLI agents: rolling SLIs, budgets and burn-rate alerts per SLO and group, on Kafka.

``register_sli_agent(app, settings, metrics)`` adds two agents and a timer to
the Faust app (``build_app`` calls it):

1. ``sli_route`` reads ``aiops.points`` (keyed by series) and, for every SLO
   that reads a point, sends its (good, total) events to an intermediate
   topic ``<app_id>-sli-events-repartition`` keyed by ``<slo id>|<group>``,
   so one partition owns each SLO-and-group's state. A latency threshold
   that is not one of the point's bucket bounds goes to the dead-letter topic.
2. ``sli_windows`` reads that topic in micro-batches, adds each event to the
   key's ``SliWindows`` at its event time, and writes the key's state
   (``to_state()`` JSON plus its active alert episodes) to the changelogged
   table ``sli-state`` once per batch. Points later than the allowed
   lateness, or from the future beyond ``sli_max_future_s``, are counted in
   ``aiops_sli_events_total{outcome}`` and logged. Each event names its
   points record (partition, offset), and a key skips the events it holds
   already (``already_applied``), so records that a killed worker reads
   again after its last commit are not counted twice. After each batch's
   keys, the table gets the newest event offset they cover, per partition
   (``offset:<partition>``), on the same changelog partition and so behind
   them. Faust may commit an offset before the changelog holds the state
   (before a commit, its flush stops waiting for its own send buffer after
   0.1 s), so a worker killed between the two resumes past what its state
   holds: before
   the first event of a partition, the agent reads the events between the
   saved offset and that one again (``fill_gap``). A jump in offsets later
   (records the consumer skipped) is read again the same way, and the route
   does the same on ``aiops.points`` (``route_skipped``). So the windows
   count every event once, whatever the consumer committed or skipped.
3. A timer every ``sli_evaluate_interval_s`` evaluates each key of the
   partitions this worker owns: snapshots to ``aiops.sli``, ``aiops_slo_*``
   gauges, and one firing event per episode and severity on ``aiops.alerts``
   (one resolved event when it ends), keyed by the episode id; each send
   observes ``aiops_alert_latency_seconds`` (event time to alert emitted).

The evaluation clock is one per worker: the newest event time it has
accepted, so a worker catching up on a backlog (after a restart) evaluates
each instant with the data of that instant and neither resolves nor re-fires
by accident. When no event at all arrives for a while the clock falls back to
the wall clock minus the lateness, so windows drain and a stopped service
ends in ``no_data`` (which resolves its episodes) instead of firing forever.

Each key's changelog partition is the partition its events arrive on,
remembered in its state, so the timer may write the table outside of an
event and the state stays co-partitioned with its events.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import time
import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import faust

from aiops.decode.points_check import BadPointsRecord, check_points
from aiops.decode.points_v2 import SCHEMA as POINTS_V2
from aiops.decode.points_v2 import decode as decode_points
from aiops.decode.points_v2 import expand_v1
from aiops.schemas.alerts import AlertV1
from aiops.settings import Settings
from aiops.slo.budget import budget_remaining, time_to_exhaustion_s
from aiops.slo.burn_rate import SeverityResult, State, burn_rate
from aiops.slo.durations import format_duration
from aiops.slo.exponential_histogram import (
    ExponentialHistogram,
    as_prometheus_ingests,
    sum_histograms,
)
from aiops.slo.exponential_windows import ExponentialWindows
from aiops.slo.objective import LatencyIndicator, Objective, exponential_of, load_objectives
from aiops.slo.quantile import NotABucketBound, histogram_quantile, native_histogram_quantile
from aiops.slo.rules import sloth_labels
from aiops.slo.sli_windows import (
    Arrival,
    ImpossibleEvents,
    SliWindows,
    WindowSet,
    check_counts,
)
from aiops.stream.deadletter import DeadLetters, refused_points_reason
from aiops.stream.metrics import StreamMetrics
from aiops.stream.replay import Record, read_range
from aiops.stream.sent_points import SentPoints
from aiops.stream.tables import KeyPartitionTable
from aiops.topics import SLI_STATE_TABLE, sli_events_topic

__all__ = [
    "SNAPSHOT_SCHEMA",
    "already_applied",
    "ending_episodes",
    "register_sli_agent",
    "sli_key",
    "snapshot_record",
]

log = logging.getLogger(__name__)

SNAPSHOT_SCHEMA = "aiops.sli/v2"
_READ_SERIES_MAX = 500_000
_BATCH = 1000
_BATCH_WITHIN_S = 1.0
_OFFSET = "offset:"
QUANTILES: tuple[float, ...] = (0.5, 0.95, 0.99)
"""The latency percentiles of a latency SLO's snapshot: p50, p95, p99."""


def latency_windows_s(objective: Objective) -> tuple[int, ...]:
    """The windows a latency SLO keeps bucket counts for, for percentiles: the current window and 1h.

    Bucket counts take ``len(bounds) + 1`` counters per bucket, so only these
    two windows keep them (about 2 x 61 x 16 x 8 bytes = 15.6 KB with 15 bounds).

    >>> from aiops.slo.spec import EXAMPLE, parse_slos
    >>> from aiops.slo.objective import to_objective
    >>> latency_windows_s(to_objective(parse_slos(EXAMPLE)[0]))
    (300, 3600)
    """
    return tuple(sorted({objective.current_window_s, min(3600, objective.window_s)}))


def _same_bounds(a: Sequence[float], b: Sequence[float]) -> bool:
    return len(a) == len(b) and all(
        math.isclose(x, y, rel_tol=1e-12) for x, y in zip(a, b, strict=True)
    )


def sli_key(objective_id: str, group: Sequence[str]) -> str:
    """The key of one SLO and group: on the intermediate topic, in the table and on ``aiops.sli``.

    >>> sli_key("demo-service-api-availability", ("/api/checkout",))
    'demo-service-api-availability|["/api/checkout"]'
    """
    return f"{objective_id}|{json.dumps(list(group))}"


def _finite(x: float) -> float | None:
    """JSON has no NaN or infinity: unknown (NaN) and never (inf) become null."""
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def snapshot_record(
    objective: Objective,
    group: Sequence[str],
    windows: SliWindows,
    results: Sequence[SeverityResult],
    latency: WindowSet | ExponentialWindows | None = None,
    interpolated: bool = False,
) -> dict[str, Any]:
    """One ``aiops.sli/v2`` record: per-window counts, ratios and burn rates, budget, exhaustion, states.

    Unknown values (no events) and infinite ones (nothing burns) are ``null``.
    A window added to saved state by a spec change is ``complete: false``,
    with the event time it counts since, until it has counted for its length.
    Latency SLOs add ``latency``: p50, p95 and p99 per window from the summed
    bucket deltas, interpolated as Prometheus's ``histogram_quantile`` (on
    classic or native histograms), and ``interpolated``: whether some good
    events were counted by interpolating inside an exponential bucket.

    >>> from aiops.slo.spec import EXAMPLE, parse_slos
    >>> from aiops.slo.objective import to_objective
    >>> objective = to_objective(parse_slos(EXAMPLE)[0])
    >>> w = SliWindows(objective.windows_s)
    >>> _ = w.add(1000.0, good=990, total=1000)
    >>> r = snapshot_record(objective, (), w, objective.evaluate(w.snapshot()))
    >>> r["windows"]["5m"]["error_ratio"], round(r["windows"]["5m"]["burn_rate"], 6), r["severities"]
    (0.01, 10.0, {'page': 'firing', 'ticket': 'firing'})
    >>> round(r["budget_remaining"], 6), r["time_to_exhaustion_s"]
    (-9.0, 0.0)
    """
    counts = windows.snapshot()
    partial = windows.partial_windows()
    out_windows = {}
    for window_s, c in counts.items():
        out_windows[format_duration(window_s)] = {
            "window_s": window_s,
            "good": c.good,
            "total": c.total,
            "error_ratio": _finite(c.error_ratio),
            "burn_rate": _finite(burn_rate(c.error_ratio, objective.target)),
            "complete": window_s not in partial,
            "since_unix": partial.get(window_s),
        }
    period = counts[float(objective.window_s)]
    remaining = budget_remaining(period.error_ratio, objective.target)
    current = counts[float(objective.current_window_s)]
    current_burn = burn_rate(current.error_ratio, objective.target)
    return {
        "schema": SNAPSHOT_SCHEMA,
        "slo": objective.name,
        "slo_id": objective.id,
        "service": objective.service,
        "group": dict(zip(objective.group_labels, group, strict=True)),
        "time_unix": windows.watermark,
        "target": objective.target,
        "windows": out_windows,
        "current_window": format_duration(objective.current_window_s),
        "burn_rate": _finite(current_burn),
        "budget_remaining": _finite(remaining),
        "time_to_exhaustion_s": _finite(
            time_to_exhaustion_s(remaining, current_burn, objective.window_s)
        ),
        "throughput_per_s": current.total / objective.current_window_s,
        "severities": {r.severity: r.state.value for r in results},
        **({"latency": _percentiles(objective, latency)} if latency is not None else {}),
        **(
            {"interpolated": interpolated}
            if isinstance(objective.indicator, LatencyIndicator)
            else {}
        ),
    }


def _percentiles(
    objective: Objective, latency: WindowSet | ExponentialWindows
) -> dict[str, dict[str, float | None]]:
    """``{window: {"p50": s, "p95": s, "p99": s}}`` of a latency SLO's bucket counts (null: no requests).

    A native SLO's exponential buckets give ``native_histogram_quantile`` of
    the window's sum, as Prometheus stores it (scale at most 8).
    """
    assert isinstance(objective.indicator, LatencyIndicator)
    bounds = objective.indicator.buckets
    out = {}
    for window_s in latency.windows_s:
        if isinstance(latency, ExponentialWindows):
            total = as_prometheus_ingests(latency.histogram(window_s))
            values = {q: native_histogram_quantile(q, total) for q in QUANTILES}
        else:
            counts = latency.totals(window_s)
            values = {q: histogram_quantile(q, bounds, counts) for q in QUANTILES}
        out[format_duration(window_s)] = {
            f"p{q * 100:g}": _finite(value) for q, value in values.items()
        }
    return out


def _generator_url(settings: Settings, objective: Objective, labels: dict[str, str]) -> str:
    """A Prometheus graph of the objective's current burn rate (``slo:current_burn_rate:ratio``)."""
    selector = ", ".join(f'{k}="{v}"' for k, v in {**sloth_labels(objective), **labels}.items())
    return settings.prometheus_graph_url("slo:current_burn_rate:ratio{" + selector + "}")


def _annotations(
    objective: Objective, result: SeverityResult, record: dict[str, Any]
) -> dict[str, str]:
    pairs = result.firing_pairs or result.pairs
    burning = "; ".join(
        f"{p.pair.factor:g}x over {format_duration(p.pair.long_s)} and {format_duration(p.pair.short_s)}: "
        f"burn rate {p.long_burn_rate:.3g} (long), {p.short_burn_rate:.3g} (short)"
        for p in pairs
    )
    remaining = record["budget_remaining"]
    exhaustion = record["time_to_exhaustion_s"]
    return {
        "summary": f"{objective.service} {objective.name} SLO error budget burn rate is over expected.",
        "description": (
            f"{objective.id} (target {objective.target * 100:g}% over {format_duration(objective.window_s)}): "
            f"{burning}. Budget remaining: {'unknown' if remaining is None else f'{remaining * 100:.1f}%'}; "
            f"time to exhaustion: {'never' if exhaustion is None else f'{exhaustion:.0f}s'}."
        ),
    }


@dataclass
class _Key:
    """One SLO and group in memory: its windows and open episodes, and the table revision they match."""

    windows: SliWindows
    episodes: dict[str, dict]
    partition: int
    rev: str
    latency: WindowSet | ExponentialWindows | None = None
    """Per-bucket counts of a latency SLO's histogram, for its percentiles (exponential: a native SLO's)."""
    interpolated: bool = False
    """Whether some good events were counted by interpolating inside an exponential bucket."""
    applied: dict[int, int] = field(default_factory=dict)
    """The highest ``aiops.points`` offset added to these windows, per points partition."""


def already_applied(
    applied: dict[int, int], source: Sequence[int] | None, t: float, watermark: float | None
) -> bool:
    """Whether a key's windows hold an event already: a replay after a crash, to be skipped.

    Faust delivers at least once. After a ``kill -9`` the route reads again
    the points records past its last commit and sends their events a second
    time, and the windows read again events that their saved state already
    holds. Each event names its points record (``source``: partition,
    offset), and a key remembers the highest offset it added per points
    partition (``applied``). An event at or below it, and no newer than the
    key's watermark, was added before. A points topic created anew starts its
    offsets over: its events newer than the watermark still count. An event
    without a source (from an older worker) is never taken for a replay.

    >>> already_applied({0: 41}, (0, 41), t=100.0, watermark=120.0)
    True
    >>> already_applied({0: 41}, (0, 42), t=100.0, watermark=120.0)
    False
    >>> already_applied({0: 41}, (1, 7), t=100.0, watermark=120.0)
    False
    >>> already_applied({0: 41}, (0, 3), t=130.0, watermark=120.0)
    False
    >>> already_applied({0: 41}, None, t=100.0, watermark=120.0)
    False
    """
    if source is None:
        return False
    partition, offset = source
    return offset <= applied.get(partition, -1) and watermark is not None and t <= watermark


def ending_episodes(
    episodes: Mapping[str, dict], results: Sequence[SeverityResult]
) -> dict[str, str]:
    """The open episodes that end now, by severity, with their resolution.

    An episode ends when its severity evaluates ``ok`` or ``no_data``, or
    when its severity is no longer evaluated at all (``disabled``): a spec
    change that disables a severity must not leave its episode firing.

    >>> from aiops.slo.burn_rate import SeverityResult, State
    >>> ending_episodes({"page": {}, "ticket": {}}, [SeverityResult("page", State.OK, ())])
    {'page': 'ok', 'ticket': 'disabled'}
    >>> ending_episodes({"page": {}}, [SeverityResult("page", State.FIRING, ())])
    {}
    """
    states = {result.severity: result.state for result in results}
    ending = {}
    for severity in episodes:
        state = states.get(severity)
        if state is None:
            ending[severity] = "disabled"
        elif state in (State.OK, State.NO_DATA):
            ending[severity] = state.value
    return ending


def _route(routed: dict[str, dict], objective: Objective, point: dict, ev: tuple) -> None:
    """Add a point's good and total (and latency buckets) to its SLO group's event of this record.

    The points of one record that fall in one SLO group at one time (the
    methods and status codes of a route, say) become one event: the windows
    add them up either way, and the repartition topic carries a tenth as much.
    """
    group = objective.group_key(point)
    t = point["time_unix_nano"] / 1e9
    key = f"{sli_key(objective.id, group)}|{t!r}"
    indicator = objective.indicator
    buckets = exponential = None
    interpolated = False
    if isinstance(indicator, LatencyIndicator):
        interpolated = indicator.interpolates(point)
        if interpolated:
            exponential = exponential_of(point) if indicator.source.native else None
        elif _same_bounds(point.get("bounds") or [], indicator.buckets):
            buckets = point.get("bucket_counts")
    value = routed.get(key)
    if value is None:
        routed[key] = {
            "slo": objective.id,
            "group": list(group),
            "t": t,
            "good": ev[0],
            "total": ev[1],
        }
        if buckets is not None:
            routed[key]["buckets"] = list(buckets)
        if exponential is not None:
            routed[key]["exponential"] = _exponential_event(exponential)
        if interpolated:
            routed[key]["interpolated"] = True
        return
    value["good"] += ev[0]
    value["total"] += ev[1]
    if interpolated:
        value["interpolated"] = True
    if exponential is not None:
        before = value.get("exponential")
        if before is not None:
            exponential = sum_histograms(_exponential_from_event(before), exponential)
        value["exponential"] = _exponential_event(exponential)
    if buckets is not None:  # same bounds as the indicator's, so the same length
        value["buckets"] = [
            a + b for a, b in zip(value.get("buckets") or [0] * len(buckets), buckets)
        ]


def _exponential_event(h: ExponentialHistogram) -> dict:
    """The zero and positive buckets of an exponential histogram, as an SLI event carries them."""
    return {
        "scale": h.scale,
        "zero_count": h.zero_count,
        "offset": h.positive_offset,
        "counts": list(h.positive),
    }


def _exponential_from_event(event: dict) -> ExponentialHistogram:
    return ExponentialHistogram(
        scale=int(event["scale"]),
        count=float(event["zero_count"]) + sum(event["counts"]),
        zero_count=event["zero_count"],
        positive_offset=int(event["offset"]),
        positive=event["counts"],
    )


@dataclass(frozen=True)
class _Replayed:
    """An SLI event read again by ``replay_gap``, shaped like the Faust event ``apply`` takes."""

    key: str | None
    value: Any
    message: Record

    @classmethod
    def of(cls, record: Record) -> _Replayed:
        try:
            key = json.loads(record.key) if record.key is not None else None
            value = json.loads(record.value) if record.value is not None else None
        except ValueError:
            key = value = None
        return cls(key, value, record)


def register_sli_agent(
    app: faust.App,
    settings: Settings,
    metrics: StreamMetrics,
    deadletters: DeadLetters,
    objectives: Sequence[Objective] | None = None,
    sent: SentPoints | None = None,
) -> None:
    """Add the SLI agents and the evaluation timer to ``app``; the SLO file is validated here (``SpecError``).

    A point record or SLI event whose processing raises is dead-lettered, and the agent goes on.
    """
    objectives = list(objectives if objectives is not None else load_objectives(settings.slo_file))
    by_id = {o.id: o for o in objectives}
    points = app.topic(settings.topic_points, key_type=str, value_serializer="raw")
    events = app.topic(
        sli_events_topic(settings),
        key_type=str,
        key_serializer="json",
        value_serializer="json",
        partitions=settings.kafka_partitions,
    )
    sli_topic = app.topic(
        settings.topic_sli, key_type=str, key_serializer="raw", value_serializer="json"
    )
    alerts = app.topic(
        settings.topic_alerts, key_type=str, key_serializer="raw", value_serializer="json"
    )
    table = app.tables.add(
        KeyPartitionTable(
            app=app,
            name=SLI_STATE_TABLE,
            default=None,
            partitions=settings.kafka_partitions,
            key_type=str,
        )
    )
    instance = uuid.uuid4().hex[:8]
    cache: dict[str, _Key] = {}
    clock = {"event": None, "last_event": time.monotonic(), "writes": 0}
    seen: dict[int, int] = {}
    """The newest offset of the events topic given to the windows, per partition, since this worker got it."""
    routed_upto: dict[int, int] = {}
    """The newest offset of the points topic routed, per partition, since this worker got it."""

    def load(key: str, objective: Objective, partition: int | None) -> _Key:
        stored = table.get(key)
        cached = cache.get(key)
        if cached is not None and (stored is None or stored.get("rev") == cached.rev):
            return cached
        state = _Key(
            SliWindows(
                objective.windows_s,
                buckets_per_window=settings.sli_buckets_per_window,
                max_lateness_s=settings.sli_max_lateness_s,
            ),
            {},
            int(partition or 0),
            "",
        )
        if isinstance(objective.indicator, LatencyIndicator) and objective.indicator.source.native:
            state.latency = ExponentialWindows(
                latency_windows_s(objective),
                buckets_per_window=settings.sli_buckets_per_window,
                max_lateness_s=settings.sli_max_lateness_s,
            )
        elif isinstance(objective.indicator, LatencyIndicator):
            state.latency = WindowSet(
                latency_windows_s(objective),
                width=len(objective.indicator.buckets) + 1,
                buckets_per_window=settings.sli_buckets_per_window,
                max_lateness_s=settings.sli_max_lateness_s,
            )
        if stored is not None:  # saved under the spec and settings of then: restore migrates
            state.windows.restore(stored["windows"])
            latency = stored.get("latency")
            if (
                state.latency is not None
                and latency
                and ("scale" in latency) == isinstance(state.latency, ExponentialWindows)
            ):  # bucket counts of the same kind of histogram (a spec may have changed it)
                state.latency.restore(latency)
            state.episodes = dict(stored.get("episodes") or {})
            state.partition = int(stored["partition"])
            state.rev = stored.get("rev", "")
            state.interpolated = bool(stored.get("interpolated"))
            state.applied = {int(p): int(o) for p, o in (stored.get("applied") or {}).items()}
        cache[key] = state
        return state

    def save(key: str, state: _Key) -> None:
        table.partition_of[key] = state.partition
        clock["writes"] += 1
        state.rev = f"{instance}:{clock['writes']}"
        table[key] = {
            "windows": state.windows.to_state(),
            "episodes": state.episodes,
            "partition": state.partition,
            "rev": state.rev,
            "latency": state.latency.to_state() if state.latency is not None else None,
            "interpolated": state.interpolated,
            "applied": {str(p): o for p, o in state.applied.items()},
        }

    read_metrics = frozenset().union(*(objective.indicator.metrics for objective in objectives))
    """Only the points of the metrics some SLO reads are expanded from a record."""
    read_series: dict[int, bool] = {}
    """Whether some SLO reads a series, by series id (its identity decides; bounded)."""

    def slo_series_in(record: object) -> bool:
        """Whether a points record may hold a series some SLO reads (v1: its metric; v2: its series' identities).

        A record that is not what it claims to be says yes, so the check at
        the door refuses it with a reason.
        """
        try:
            if record.get("schema") != POINTS_V2:
                return (
                    record.get("metric") in read_metrics
                    or record.get("schema") != "aiops.points/v1"
                )
            series = record["series"]
            resource = record["resource"]
            return any(
                some_slo_reads(
                    sid,
                    {
                        "metric": metric,
                        "kind": kind,
                        "unit": unit,
                        "attributes": attributes,
                        "resource": resource,
                    },
                )
                for sid, metric, kind, unit, attributes in zip(
                    series["id"],
                    series["metric"],
                    series["kind"],
                    series["unit"],
                    series["attributes"],
                )
                if metric in read_metrics
            )
        except (AttributeError, KeyError, TypeError):
            return True

    def some_slo_reads(series_id: int, identity: dict) -> bool:
        reads = read_series.get(series_id)
        if reads is None:
            if len(read_series) >= _READ_SERIES_MAX:
                read_series.clear()
            reads = read_series[series_id] = any(o.reads(identity) for o in objectives)
        return reads

    @app.agent(points, name="sli_route")
    async def sli_route(stream):
        async def route_one(event) -> None:
            cpu = time.process_time()
            routed: dict[str, dict] = {}
            rejected = []
            value = event.value or b""
            try:
                checked = (
                    None
                    if sent is None
                    else sent.take(event.message.partition, event.message.offset, value)
                )
                if checked is None:
                    record = decode_points(value)
                else:
                    record = checked.record
                    metrics.points_from_memory.labels(reader="sli").inc()
                if not slo_series_in(record):
                    metrics.stage_cpu.labels(stage="sli").inc(time.process_time() - cpu)
                    return
                if checked is None:
                    checked = check_points(record)
            except (ValueError, BadPointsRecord) as error:
                reason = error.reason if isinstance(error, BadPointsRecord) else "not JSON"
                await deadletters.refuse(
                    event.message, value, stage="sli", kind="bad_points_record", reason=reason
                )
                return
            if checked.problems:
                await deadletters.refuse(
                    event.message,
                    value,
                    stage="sli",
                    kind="bad_points",
                    reason=refused_points_reason(
                        checked.refused, len(checked) + len(checked.problems)
                    ),
                )
            for point in (
                expand_v1(checked.record, read_metrics, some_slo_reads)
                if checked.record["schema"] == POINTS_V2
                else checked.points(read_metrics)
            ):
                if "time_unix_nano" not in point:
                    continue
                for objective in objectives:
                    try:
                        ev = objective.events(point)
                    except NotABucketBound as error:
                        rejected.append((point, objective, error))
                        continue
                    if ev is not None:
                        _route(routed, objective, point, ev)
            metrics.stage_cpu.labels(stage="sli").inc(time.process_time() - cpu)
            for point, objective, error in rejected:
                await deadletters.refuse(
                    event.message,
                    json.dumps(point).encode(),
                    stage="sli",
                    kind="not_a_bucket_bound",
                    reason=f"{objective.id}: {error}",
                )
            for key, value in routed.items():
                value["source"] = [event.message.partition, event.message.offset]
                await events.send(key=key.rsplit("|", 1)[0], value=value)

        async for event in stream.events():
            partition, offset = event.message.partition, event.message.offset
            last = routed_upto.get(partition)
            if last is not None and offset > last + 1:
                await route_skipped(partition, last + 1, offset, route_one)
            routed_upto[partition] = max(offset, -1 if last is None else last)
            async with deadletters.on_error(event, stage="sli"):
                await route_one(event)

    async def route_skipped(partition: int, start: int, end: int, route_one) -> None:
        """Route the points records the consumer skipped (offsets ``start`` to ``end - 1``), before the next one.

        The points topic has no gaps of its own (no compaction, no
        transactions), so a jump in offsets is records the consumer never
        handed to the agent. That happened once in the chaos e2e, right after
        a worker's recovery: one points record was never routed while the
        next ones were, and Faust acknowledges the records its streams skip
        while flow control is off or the generation changed. Routed in order
        before the next record, their events count like any other.
        """
        records = await read_again(settings.topic_points, partition, start, end)
        log.warning(
            "routing %d records of %s[%d] (offsets %d to %d) the consumer skipped",
            len(records),
            settings.topic_points,
            partition,
            start,
            end - 1,
        )
        for record in records:
            event = _Replayed(None, record.value, record)
            async with deadletters.on_error(event, stage="sli"):
                await route_one(event)

    async def apply(event, touched: dict[str, _Key], now: float) -> None:
        """Add one SLI event to its key's windows (``touched`` collects the keys to save)."""
        record = event.value
        objective = by_id.get(record.get("slo")) if isinstance(record, dict) else None
        if objective is None:
            return
        key = event.key if isinstance(event.key, str) else sli_key(objective.id, record["group"])
        t = float(record["t"])
        if t > now + settings.sli_max_future_s:
            metrics.sli_events.labels(outcome="future").inc()
            log.warning("%s: point %.0f s in the future ignored", key, t - now)
            return
        state = touched.get(key) or load(key, objective, event.message.partition)
        source = record.get("source")
        if already_applied(state.applied, source, t, state.windows.watermark):
            metrics.sli_events.labels(outcome="replayed").inc()
            return
        buckets = record.get("buckets")
        if (
            not isinstance(state.latency, WindowSet)
            or not buckets
            or len(buckets) != state.latency.width
        ):
            buckets = None
        exponential = record.get("exponential")
        if not isinstance(state.latency, ExponentialWindows):
            exponential = None
        try:
            if buckets is not None:
                check_counts(t, buckets)
            if exponential is not None:
                check_counts(t, [exponential["zero_count"], *exponential["counts"]])
                exponential = _exponential_from_event(exponential)
            arrival = state.windows.add(t, good=float(record["good"]), total=float(record["total"]))
        except ImpossibleEvents as error:
            await deadletters.refuse(
                event.message,
                json.dumps(event.value).encode(),
                stage="sli",
                kind="impossible_sli_event",
                reason=f"{key}: {error}",
            )
            return
        metrics.sli_events.labels(outcome=arrival.value).inc()
        if source is not None:
            partition, offset = source
            state.applied[partition] = max(state.applied.get(partition, -1), offset)
        if arrival is Arrival.DROPPED:
            log.warning(
                "%s: point at %.3f dropped, %.1f s behind the watermark (lateness %.0f s)",
                key,
                t,
                state.windows.watermark - t,
                settings.sli_max_lateness_s,
            )
            return
        if buckets is not None:
            state.latency.add(t, [float(b) for b in buckets])
        if exponential is not None:
            state.latency.add(t, exponential)
        state.interpolated |= bool(record.get("interpolated"))
        touched[key] = state
        clock["event"] = t if clock["event"] is None else max(clock["event"], t)

    async def read_again(topic: str, partition: int, start: int, end: int) -> list[Record]:
        """The records of ``topic[partition]`` at offsets ``start`` to ``end - 1``, read beside the consumer."""
        return await asyncio.get_running_loop().run_in_executor(
            None,
            functools.partial(
                read_range,
                settings,
                topic,
                partition,
                start,
                end,
                group_id=f"{settings.faust_app_id}-sli-replay",
            ),
        )

    async def replay_gap(
        partition: int, start: int, end: int, touched: dict[str, _Key], why: str
    ) -> None:
        """Add the events of ``partition`` at offsets ``start`` to ``end - 1``, which the windows never got.

        Events without a ``source`` (from an older worker) cannot be told
        from ones the state holds and are left out.
        """
        topic = events.get_topic_name()
        records = await read_again(topic, partition, start, end)
        log.warning(
            "replaying %d events of %s[%d] (offsets %d to %d): %s",
            len(records),
            topic,
            partition,
            start,
            end - 1,
            why,
        )
        now = time.time()
        for record in records:
            event = _Replayed.of(record)
            if isinstance(event.value, dict) and event.value.get("source") is not None:
                async with deadletters.on_error(event, stage="sli"):
                    await apply(event, touched, now)

    async def fill_gap(event, touched: dict[str, _Key]) -> None:
        """Before an event, add what the windows missed on its partition: since the saved state, or a skipped stretch.

        The first event of a partition this worker gets may lie past the
        state's offset mark (``offset:<partition>``, the newest event the
        windows hold): Faust may have committed further before the changelog
        held the state. With no mark yet (a new partition, or state saved by
        an older release) the partition is read from its start; what the
        state holds already is skipped (``already_applied``). Later, a jump in offsets is records the consumer
        skipped: the events topic has no gaps of its own (see ``route_skipped``).
        """
        partition, offset = event.message.partition, event.message.offset
        last = seen.get(partition)
        if last is None:
            saved = table.get(_OFFSET + str(partition))
            start = 0 if saved is None else int(saved) + 1
            if start < offset:
                await replay_gap(partition, start, offset, touched, "after the saved state")
        elif offset > last + 1:
            await replay_gap(partition, last + 1, offset, touched, "skipped by the consumer")
        seen[partition] = max(offset, -1 if last is None else last)

    @app.agent(events, name="sli_windows")
    async def sli_windows(stream):
        async for batch in stream.take_events(_BATCH, within=_BATCH_WITHIN_S):
            touched: dict[str, _Key] = {}
            covered: dict[int, int] = {}
            now = time.time()
            for event in batch:
                await fill_gap(event, touched)
                async with deadletters.on_error(event, stage="sli"):
                    await apply(event, touched, now)
                partition = event.message.partition
                covered[partition] = max(covered.get(partition, -1), event.message.offset)
            if batch:
                clock["last_event"] = time.monotonic()
            for key, state in touched.items():
                save(key, state)
            for (
                partition,
                offset,
            ) in covered.items():  # after the keys: a changelog partition is in order
                table.partition_of[_OFFSET + str(partition)] = partition
                table[_OFFSET + str(partition)] = offset

    @app.on_partitions_revoked.connect
    async def forget_revoked(app_: faust.App, revoked: set, **kwargs: Any) -> None:
        """Partitions this worker lost are checked for gaps afresh if it gets them back."""
        topic = events.get_topic_name()
        for tp in revoked:
            if tp.topic == topic:
                seen.pop(tp.partition, None)
            elif tp.topic == settings.topic_points:
                routed_upto.pop(tp.partition, None)

    @app.timer(settings.sli_evaluate_interval_s, name="sli_evaluate")
    async def sli_evaluate():
        await evaluate_all()

    async def evaluate_all() -> None:
        at = clock["event"]
        idle_s = max(settings.sli_max_lateness_s, 3 * settings.sli_evaluate_interval_s)
        if time.monotonic() - clock["last_event"] > idle_s:
            wall = time.time() - settings.sli_max_lateness_s
            at = wall if at is None else max(at, wall)
        topic = events.get_topic_name()
        actives = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}
        for key in list(table.keys()):
            if key.startswith(_OFFSET):
                continue
            stored = table.get(key)
            if not stored or int(stored.get("partition", -1)) not in actives:
                continue
            objective = by_id.get(key.split("|", 1)[0])
            if objective is None:
                continue
            try:
                await _evaluate(key, objective, load(key, objective, None), at)
            except Exception:  # noqa: BLE001 - one bad key must not stop the others' evaluation
                log.error("evaluating %s failed: %s", key, traceback.format_exc(limit=3))

    async def _evaluate(key: str, objective: Objective, state: _Key, at: float | None) -> None:
        if at is not None:
            state.windows.advance(at)
            if state.latency is not None:
                state.latency.advance(at)
        group = tuple(json.loads(key.split("|", 1)[1]))
        results = objective.evaluate(state.windows.snapshot())
        record = snapshot_record(
            objective, group, state.windows, results, state.latency, state.interpolated
        )
        await sli_topic.send(key=key, value=record)
        group_text = ",".join(f"{k}={v}" for k, v in record["group"].items())
        labels = {"slo": objective.name, "service": objective.service, "group": group_text}
        for window, values in record["windows"].items():
            nan = math.nan
            metrics.slo_error_ratio.labels(**labels, window=window).set(
                _or(values["error_ratio"], nan)
            )
            metrics.slo_burn_rate.labels(**labels, window=window).set(_or(values["burn_rate"], nan))
        for window, quantiles in record.get("latency", {}).items():
            for name, seconds in quantiles.items():
                metrics.slo_latency.labels(**labels, window=window, quantile=name).set(
                    _or(seconds, math.nan)
                )
        period = format_duration(objective.window_s)
        counts = state.windows.snapshot()
        remaining = budget_remaining(
            counts[float(objective.window_s)].error_ratio, objective.target
        )
        current_burn = burn_rate(
            counts[float(objective.current_window_s)].error_ratio, objective.target
        )
        metrics.slo_budget_remaining.labels(**labels, window=period).set(remaining)
        metrics.slo_time_to_exhaustion.labels(**labels, window=period).set(
            time_to_exhaustion_s(remaining, current_burn, objective.window_s)
        )
        changed = False
        when = datetime.fromtimestamp(state.windows.watermark or time.time(), tz=UTC)
        for result in results:
            open_episode = state.episodes.get(result.severity)
            if result.state is State.FIRING and open_episode is None:
                alert_labels = {
                    **objective.severity_alert_labels(result.severity),
                    "alertname": objective.alert_name,
                    **record["group"],
                }
                alert = AlertV1.firing(
                    alert_labels,
                    _annotations(objective, result, record),
                    when,
                    _generator_url(settings, objective, record["group"]),
                )
                await alerts.send(key=alert.id, value=alert.model_dump(mode="json", by_alias=True))
                metrics.slo_alerts.labels(severity=result.severity, status="firing").inc()
                _observe_latency(metrics, result.severity, "firing", when)
                log.warning("%s %s firing (episode %s)", key, result.severity, alert.id)
                state.episodes[result.severity] = alert.model_dump(mode="json", by_alias=True)
                changed = True
        for severity, resolution in ending_episodes(state.episodes, results).items():
            alert = AlertV1.model_validate(state.episodes.pop(severity))
            resolved = alert.resolve(when, {**alert.annotations, "resolution": resolution})
            await alerts.send(key=alert.id, value=resolved.model_dump(mode="json", by_alias=True))
            metrics.slo_alerts.labels(severity=severity, status="resolved").inc()
            _observe_latency(metrics, severity, "resolved", when)
            log.warning("%s %s resolved (episode %s, %s)", key, severity, alert.id, resolution)
            changed = True
        if changed:
            save(key, state)


def _observe_latency(metrics: StreamMetrics, severity: str, status: str, when: datetime) -> None:
    """Processing latency: from the event time the alert stands on (its startsAt or endsAt) to now, its send."""
    metrics.alert_latency.labels(severity=severity, status=status).observe(
        max(time.time() - when.timestamp(), 0.0)
    )


def _or(value: float | None, default: float) -> float:
    return default if value is None else value
