"""The fuzz suite (issue 13, item 9): malformed OTLP and malformed points records, state carried across inputs.

10,000 OTLP inputs go through ``decode_payload_v2`` with one decode
process's state (delta states per resource, the series interner): random
bytes, truncated and bit-flipped valid payloads, empty ones, payloads with
thousands of attributes, and semantically wrong steps of good streams (kind
collisions, an int and a string attribute of the same value, times beyond
int64 or far ahead, NaN and Inf, negative monotonic sums, infinite deltas).
A second process decodes the good points only. 3,000 points records, cut,
flipped and rebuilt wrong from the first process's output, go through
``check_points``. Asserted: no exception but ``MalformedPayload`` and
``BadPointsRecord``; no poisoned state (the good streams' points equal the
clean process's, step by step); no record, and no dead letter, over
``AIOPS_MAX_RECORD_BYTES``; every record the decoder writes passes
``check_points`` whole. Seeds are fixed; the counts per class are printed
(``pytest -s``) for the closing note.
"""

import base64
import random
import time
from collections import Counter

import numpy as np
import orjson

from aiops.bench.synthetic import synthetic_exports
from aiops.decode import MalformedPayload
from aiops.decode.admission import Limits
from aiops.decode.columnar import SeriesInterner
from aiops.decode.delta_columns import DeltaState
from aiops.decode.payload_v2 import decode_payload_v2
from aiops.decode.points_check import BadPointsRecord, check_points, checked_as_sent
from aiops.decode.points_v2 import decode, encode
from aiops.decode.rejections import bounded_payload, summary
from aiops.schemas import PointsV2
from aiops.settings import Settings
from support.otlp_gen import NOW, PayloadGenerator, kv

OTLP_INPUTS = 10_000
POINTS_INPUTS = 3_000
STEPS = 400
MAX_BYTES = Settings().max_record_bytes
LIMITS = Limits(NOW, Settings().decode_max_future_s, Settings().decode_max_past_s, MAX_BYTES)


def _unlike(sent, read) -> str | None:
    """How the record the decoder kept (``checked_as_sent``) differs from the one read back from its bytes."""
    if read.problems:
        return f"the check refuses points the decoder sent: {read.refused}"
    mine, theirs = sent.record, read.record
    if mine.keys() != theirs.keys() or mine["points"].keys() != theirs["points"].keys():
        return f"fields {sorted(mine)} / {sorted(mine['points'])} against {sorted(theirs)} / {sorted(theirs['points'])}"
    for name, column in theirs["points"].items():
        other = mine["points"][name]
        if other.dtype != column.dtype or not np.array_equal(
            other, column, equal_nan=column.dtype.kind == "f"
        ):
            return f"column {name}: {other.dtype} {other[:5]} against {column.dtype} {column[:5]}"
    for field in ("schema", "resource", "series", "bounds"):
        if _typed(mine[field]) != _typed(theirs[field]):
            return f"{field}: {str(mine[field])[:200]} against {str(theirs[field])[:200]}"
    return None


def _typed(value):
    """``value`` with the type of every scalar beside it, so 1 and 1.0 and True differ."""
    if isinstance(value, dict):
        return {key: _typed(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


class Process:
    """One decode process: state carried across every input it is given."""

    def __init__(self):
        self.states: dict[str, DeltaState] = {}
        self.interner = SeriesInterner(capacity=20_000)
        self.rows: dict[int, list] = {}
        self.records: list[bytes] = []
        self.uncaught: list[str] = []
        self.problems: Counter = Counter()
        self.largest = 0
        self.unlike_sent: list[str] = []
        self.read_back = 0

    def feed(self, payload: bytes) -> str:
        """Decode one payload; returns ``malformed``, ``refused`` (some points) or ``decoded``."""
        try:
            result = decode_payload_v2(
                payload,
                lambda key: self.states.setdefault(key, DeltaState()),
                self.interner,
                12,
                LIMITS,
            )
        except MalformedPayload as error:
            self._dead_letter(payload, str(error))
            return "malformed"
        except Exception as error:  # noqa: BLE001 - what the suite counts
            self.uncaught.append(f"{type(error).__name__}: {error}"[:300])
            return "uncaught"
        for out in result.records:
            self.largest = max(self.largest, len(out.value))
            self.records.append(out.value)
            sent = checked_as_sent(out.record)
            unlike = sent and _unlike(sent, check_points(out.value))
            if unlike:
                self.unlike_sent.append(unlike)
            self.read_back += sent is None
            for sid, row in _rows(out.value):
                self.rows.setdefault(sid, []).append(row)
        if result.problems:
            self.problems.update(p.code for p in result.problems)
            self._dead_letter(
                payload, summary(result.problems, len(result.problems) + result.points)
            )
            return "refused"
        return "decoded"

    def _dead_letter(self, payload: bytes, reason: str) -> None:
        kept, cut = bounded_payload(payload, MAX_BYTES)
        size = len(base64.b64encode(kept)) + len((reason[: MAX_BYTES // 8] + cut).encode()) + 1_000
        self.largest = max(self.largest, size)


def _rows(value: bytes):
    p = decode(value)["points"]
    for i, sid in enumerate(p["series_id"]):
        o, e = p["bucket_offsets"][i], p["bucket_offsets"][i + 1]
        yield (
            sid,
            (
                p["flags"][i],
                p["interval_start_unix_nano"][i],
                p["time_unix_nano"][i],
                p["value"][i],
                p["count"][i],
                p["sum"][i],
                tuple(p["bucket_counts"][o:e]),
            ),
        )


def _huge(attributes: int) -> bytes:
    from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource

    points = [
        pb.NumberDataPoint(
            attributes=[kv(f"k{j}", "v" * (j % 40)) for j in range(attributes)],
            time_unix_nano=NOW,
            as_double=1.0,
        )
    ]
    points += [
        pb.NumberDataPoint(attributes=[kv("i", i)], time_unix_nano=NOW, as_double=i)
        for i in range(50)
    ]
    resource = Resource(attributes=[kv("service.name", "fz-huge")])
    return pb.MetricsData(
        resource_metrics=[
            pb.ResourceMetrics(
                resource=resource,
                scope_metrics=[
                    pb.ScopeMetrics(
                        metrics=[pb.Metric(name="g", gauge=pb.Gauge(data_points=points))]
                    )
                ],
            )
        ]
    ).SerializeToString()


def _many(points: int) -> bytes:
    """One resource with ``points`` gauges of their own series: a record of several MB, sent in parts."""
    from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource

    data = [
        pb.NumberDataPoint(
            attributes=[kv("i", i), kv("pad", "p" * 100)], time_unix_nano=NOW, as_double=i
        )
        for i in range(points)
    ]
    resource = Resource(attributes=[kv("service.name", "fz-many")])
    return pb.MetricsData(
        resource_metrics=[
            pb.ResourceMetrics(
                resource=resource,
                scope_metrics=[
                    pb.ScopeMetrics(metrics=[pb.Metric(name="g", gauge=pb.Gauge(data_points=data))])
                ],
            )
        ]
    ).SerializeToString()


def _flip(rng: random.Random, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def test_fuzz_decode_and_points_check():
    began = time.process_time()
    rng = random.Random(13)
    corpus = [
        p
        for round_ in synthetic_exports(resources=4, series=20, exports=3, seed=13)
        for p in round_
    ]
    generator = PayloadGenerator(seed=13, steps=STEPS, fault_rate=0.3)
    fuzzed, clean = Process(), Process()
    classes: dict[str, Counter] = {}
    semantic: Counter = Counter()
    poisoned = 0
    structural = ["random_bytes", "truncated", "bit_flipped", "empty"]
    weights = [30, 30, 38, 2]
    huge = [_huge(attributes) for attributes in (2_000, 20_000, 47_000)]
    many = _many(12_000)
    parts = 0
    inputs = 0
    for step in range(STEPS):
        generated = generator.step(step)
        outcome = fuzzed.feed(generated.payload)
        clean.feed(generated.good)
        classes.setdefault("semantic_step", Counter())[outcome] += 1
        semantic.update(generated.bad)
        inputs += 1
        for sid, rows in clean.rows.items():
            poisoned += fuzzed.rows.get(sid) != rows
        for _ in range((OTLP_INPUTS - STEPS) // STEPS):
            kind = rng.choices(structural, weights)[0]
            if kind == "random_bytes":
                data = rng.randbytes(rng.randint(1, 2_000))
            elif kind == "truncated":
                source = rng.choice(corpus)
                data = source[: rng.randrange(1, len(source))]
            elif kind == "bit_flipped":
                data = _flip(rng, rng.choice(corpus))
            else:
                data = b""
            classes.setdefault(kind, Counter())[fuzzed.feed(data)] += 1
            inputs += 1
        if (
            step % 20 == 0
        ):  # a point with 2,000, 20,000 or 47,000 attributes (the last one too large)
            classes.setdefault("huge_attributes", Counter())[fuzzed.feed(huge[step // 20 % 3])] += 1
            inputs += 1
        if step % 80 == 0:
            before = len(fuzzed.records)
            classes.setdefault("many_points", Counter())[fuzzed.feed(many)] += 1
            parts += len(fuzzed.records) - before
            inputs += 1
    assert inputs >= OTLP_INPUTS
    assert (
        clean.problems == Counter() and len(clean.rows) == 12
    )  # 2 services x 2 routes x 3 metrics

    points_classes: dict[str, Counter] = {}
    records = fuzzed.records
    for n in range(POINTS_INPUTS):
        record = decode(rng.choice(records))
        kind = rng.choice(
            [
                "truncated",
                "byte_flipped",
                "column_dropped",
                "column_shortened",
                "value_replaced",
                "bucket_added",
                "not_json",
            ]
        )
        data = _broken_record(rng, kind, record)
        try:
            checked = check_points(data)
            outcome = "partly_kept" if checked.problems else "kept"
            if not checked.problems and n % 10 == 0:
                PointsV2.model_validate(orjson.loads(encode(checked.record)))
        except BadPointsRecord:
            outcome = "refused"
        except Exception as error:  # noqa: BLE001 - what the suite counts
            fuzzed.uncaught.append(f"check_points {type(error).__name__}: {error}"[:300])
            outcome = "uncaught"
        points_classes.setdefault(kind, Counter())[outcome] += 1
    unchecked = [
        value for value in records[:: max(len(records) // 500, 1)] if check_points(value).problems
    ]
    elapsed = time.process_time() - began

    print(f"\nfuzz: {inputs} OTLP inputs, {POINTS_INPUTS} points records, {elapsed:.1f} s CPU")
    for name, counts in sorted(
        {**classes, **{f"points.{k}": v for k, v in points_classes.items()}}.items()
    ):
        print(
            f"  {name}: {sum(counts.values())} ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})"
        )
    print(f"  many_points: 12,000 points each, sent in {parts} records in all")
    print(f"  bad points planted in semantic steps: {dict(sorted(semantic.items()))}")
    print(f"  points refused by the fuzzed process: {dict(sorted(fuzzed.problems.items()))}")
    print(
        f"  uncaught {len(fuzzed.uncaught)}, poisoned {poisoned}, largest record or dead letter "
        f"{fuzzed.largest:,} bytes (limit {MAX_BYTES:,})"
    )

    assert fuzzed.uncaught == []
    assert fuzzed.unlike_sent == [], (
        "the detect agent's in-process copy must be what it would read back"
    )
    assert poisoned == 0
    assert fuzzed.largest <= MAX_BYTES
    assert parts > 2 * classes["many_points"]["decoded"] > 0, (
        "a record over the limit is sent in parts"
    )
    assert unchecked == [], "the decoder's own records pass the door check whole"
    assert fuzzed.problems["too_large"] > 0 and fuzzed.problems["infinite_delta"] > 0
    assert all(fuzzed.problems[code] >= count for code, count in semantic.items())
    assert elapsed < 60


def _broken_record(rng: random.Random, kind: str, record: dict) -> bytes:
    data = encode(record)
    points = record["points"]
    if kind == "truncated":
        return data[: rng.randrange(len(data))]
    if kind == "byte_flipped":
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            flipped[rng.randrange(len(flipped))] = rng.choice(b'0123456789-.e"[]{},:xn ')
        return bytes(flipped)
    if kind == "column_dropped":
        del points[rng.choice(sorted(points))]
    elif kind == "column_shortened":
        column = rng.choice(sorted(points))
        points[column] = points[column][:-1]
    elif kind == "value_replaced":
        column = rng.choice(sorted(points))
        if points[column]:
            points[column][rng.randrange(len(points[column]))] = rng.choice(
                ["x", None, [1], {"a": 1}, -1, 2**63, 1.5, True, 1e308]
            )
    elif kind == "bucket_added":
        points["bucket_counts"].append(rng.randint(0, 5))
    else:
        return rng.choice(
            [b"not json", b"[]", b"null", b'"aiops.points/v2"', b"{}", b'{"schema": 7}']
        )
    return encode(record)
