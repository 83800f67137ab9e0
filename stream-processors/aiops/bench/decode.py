"""What ``aiops bench decode`` measures: per-point decode (v1) against columnar decode (v2), same payloads.

Both paths get the same synthetic fleet exports (``synthetic_otlp``). The
first export of every series is untimed for both (the columnar path interns
its labels there, once per series and process; its cost is reported apart);
the following exports are timed, in process CPU time, so a busy machine does
not skew the rates. Stages of the columnar path are timed cumulatively:
decode alone, then with deltas, then with the v2 record encoded. The v1 path
is ``decode_payload`` with each point's v1 record encoded by orjson.

>>> result = run_decode_bench(resources=2, series=20, exports=3)
>>> result.points == result.v1_points, result.v2_records
(True, 4)
"""

from __future__ import annotations

import math
import os
import platform
import time
from dataclasses import dataclass

import orjson

from aiops.bench.synthetic import synthetic_exports
from aiops.decode.columnar import SeriesInterner, decode_columns
from aiops.decode.delta_columns import DeltaState
from aiops.decode.payload import decode_payload
from aiops.decode.points_v2 import encode, to_record

__all__ = ["DecodeBenchResult", "EncodingRow", "encoding_table", "machine", "run_decode_bench"]


@dataclass(frozen=True)
class DecodeBenchResult:
    """Rates in points per second of CPU time; bytes per record and per point on ``aiops.points``."""

    resources: int
    series: int
    timed_exports: int
    points: int
    v1_points: int
    v1_decode_per_s: float
    v1_decode_encode_per_s: float
    v2_decode_per_s: float
    v2_decode_delta_per_s: float
    v2_decode_delta_encode_per_s: float
    intern_us_per_series: float
    v1_records: int
    v1_bytes_per_record: float
    v2_records: int
    v2_bytes_per_record: float
    v1_bytes_per_point: float
    v2_bytes_per_point: float
    state_bytes_per_series: float


def machine() -> str:
    """One line naming the CPU, cores, load, Python and protobuf backend, for the benchmark's header.

    >>> "python" in machine()
    True
    """
    from google.protobuf.internal import api_implementation

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(
                line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"{model}, {os.cpu_count()} cores, load {load}; python {platform.python_version()}, "
        f"protobuf {api_implementation.Type()}"
    )


def _cpu(fn) -> tuple[float, object]:
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def run_decode_bench(
    resources: int = 50,
    series: int = 100,
    exports: int = 10,
    seed: int = 0,
    progress=lambda message: None,
) -> DecodeBenchResult:
    """Decode ``exports`` rounds of ``resources`` payloads of ``series`` points each, both ways.

    The first round warms both paths (state, interning) and is not timed.
    """
    progress(f"generating {exports} exports of {resources} resources x {series} series")
    rounds = synthetic_exports(resources=resources, series=series, exports=exports, seed=seed)
    warm, timed = rounds[0], [payload for round_ in rounds[1:] for payload in round_]

    progress("v1: per-point decode_payload")
    states: dict = {}
    for payload in warm:
        decode_payload(payload, states)
    v1_states = dict(states)
    v1_decode_s, v1_counts = _cpu(lambda: [len(decode_payload(p, states).points) for p in timed])
    states = v1_states
    v1_records: list[bytes] = []

    def v1_full():
        for payload in timed:
            v1_records.extend(
                orjson.dumps(point.as_record()) for point in decode_payload(payload, states).points
            )

    v1_full_s, _ = _cpu(v1_full)

    progress("v2: columnar decode, deltas, records")
    interner = SeriesInterner()
    intern_s, _ = _cpu(lambda: [decode_columns(p, interner) for p in warm])
    decode_s, decoded = _cpu(lambda: [decode_columns(p, interner) for p in timed])
    points = sum(d.points for d in decoded)

    def with_delta(make_record: bool):
        state = DeltaState()
        for payload in warm:
            for batch in decode_columns(payload, interner).batches:
                state.apply(batch)
        records: list[bytes] = []

        def run():
            for payload in timed:
                for batch in decode_columns(payload, interner).batches:
                    point_batch = state.apply(batch)
                    if make_record:
                        records.append(encode(to_record(point_batch)))

        return _cpu(run)[0], records

    progress("v2: memory of the decode state and the label cache per live series")
    state_bytes = _state_bytes(rounds[:2], resources * series)
    delta_s, _ = with_delta(False)
    full_s, v2_records = with_delta(True)
    v1_bytes = sum(map(len, v1_records))
    v2_bytes = sum(map(len, v2_records))
    warm_points = resources * series
    return DecodeBenchResult(
        resources=resources,
        series=series,
        timed_exports=exports - 1,
        points=points,
        v1_points=sum(v1_counts),
        v1_decode_per_s=sum(v1_counts) / max(v1_decode_s, 1e-9),
        v1_decode_encode_per_s=len(v1_records) / max(v1_full_s, 1e-9),
        v2_decode_per_s=points / max(decode_s, 1e-9),
        v2_decode_delta_per_s=points / max(delta_s, 1e-9),
        v2_decode_delta_encode_per_s=points / max(full_s, 1e-9),
        intern_us_per_series=(intern_s - decode_s * warm_points / max(points, 1))
        / warm_points
        * 1e6,
        v1_records=len(v1_records),
        v1_bytes_per_record=v1_bytes / max(len(v1_records), 1),
        v2_records=len(v2_records),
        v2_bytes_per_record=v2_bytes / max(len(v2_records), 1),
        v1_bytes_per_point=v1_bytes / max(len(v1_records), 1),
        v2_bytes_per_point=v2_bytes / max(points, 1),
        state_bytes_per_series=state_bytes,
    )


def _state_bytes(rounds: list[list[bytes]], series: int) -> float:
    """Bytes allocated and kept per live series by a fresh ``SeriesInterner`` and ``DeltaState`` (tracemalloc)."""
    import gc
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    interner, state = SeriesInterner(), DeltaState()
    for round_ in rounds:
        for payload in round_:
            for batch in decode_columns(payload, interner).batches:
                state.apply(batch)
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return kept / max(series, 1)


@dataclass(frozen=True)
class EncodingRow:
    """One candidate encoding of one export's points: bytes, compressed bytes, and CPU time per record."""

    export: str
    encoding: str
    bytes: int
    zlib_bytes: int
    encode_us: float
    decode_us: float


def _best_us(fn, repeat: int) -> float:
    best = math.inf
    for _ in range(5):
        start = time.process_time()
        for _ in range(repeat):
            fn()
        best = min(best, (time.process_time() - start) / repeat)
    return best * 1e6


def encoding_table(
    series_counts: tuple[int, ...] = (100, 5000), seed: int = 3
) -> list[EncodingRow]:
    """Size and speed of the v2 record's candidate encodings, against v1's record per point.

    For each size, one resource's second export (deltas) is encoded as v1
    records (orjson, one per point), and as the v2 record with orjson (lists,
    or numpy columns: the chosen one), msgpack (lists, or raw array bytes) and
    Arrow IPC (labels as JSON metadata); msgpack and Arrow only when installed.
    "Decode" means back to numpy columns. ``zlib_bytes`` compresses all of an
    encoding's records of the export together, as a Kafka producer batch is.

    >>> rows = encoding_table((10,))
    >>> [row.encoding for row in rows][:3]
    ['v1: one orjson record per point', 'v2 orjson, lists', 'v2 orjson, numpy columns (chosen)']
    """
    return [row for series in series_counts for row in _encodings_of(series, seed)]


def _encodings_of(series: int, seed: int) -> list[EncodingRow]:
    import zlib

    import numpy as np

    from aiops.decode.points_v2 import columns, decode

    rows: list[EncodingRow] = []
    rounds = synthetic_exports(resources=1, series=series, exports=2, seed=seed)
    state, interner, states = DeltaState(), SeriesInterner(), {}
    state.apply(decode_columns(rounds[0][0], interner).batches[0])
    decode_payload(rounds[0][0], states)
    batch = state.apply(decode_columns(rounds[1][0], interner).batches[0])
    v1 = [point.as_record() for point in decode_payload(rounds[1][0], states).points]
    record = to_record(batch)
    meta = {key: value for key, value in record.items() if key != "points"}

    def lists() -> (
        dict
    ):  # the record with plain lists, converted inside the timing as the other candidates are
        return {
            **meta,
            "points": {key: value.tolist() for key, value in to_record(batch)["points"].items()},
        }

    repeat = max(1, 2000 // series)
    label = f"{series:,}-series export ({len(batch):,} points)"

    def add(name, enc, dec, *, many=False):
        data = enc()
        blobs = data if many else [data]
        rows.append(
            EncodingRow(
                label,
                name,
                sum(map(len, blobs)),
                len(zlib.compress(b"".join(blobs), 1)),
                _best_us(enc, repeat),
                _best_us(lambda: dec(data), repeat),
            )
        )

    add(
        "v1: one orjson record per point",
        lambda: [orjson.dumps(r) for r in v1],
        lambda blobs: [orjson.loads(b) for b in blobs],
        many=True,
    )
    add("v2 orjson, lists", lambda: orjson.dumps(lists()), lambda b: columns(decode(b)))
    add(
        "v2 orjson, numpy columns (chosen)",
        lambda: encode(to_record(batch)),
        lambda b: columns(decode(b)),
    )
    try:
        import msgpack
    except ImportError:
        msgpack = None
    if msgpack is not None:
        add(
            "v2 msgpack, lists",
            lambda: msgpack.packb(lists()),
            lambda b: columns(msgpack.unpackb(b, strict_map_key=False)),
        )

        def raw_unpack(b):
            points = msgpack.unpackb(b, strict_map_key=False)["points"]
            return {key: np.frombuffer(blob, dtype=dtype) for key, (dtype, blob) in points.items()}

        add(
            "v2 msgpack, raw array bytes",
            lambda: msgpack.packb(
                {
                    **meta,
                    "points": {
                        k: [v.dtype.str, v.tobytes()] for k, v in to_record(batch)["points"].items()
                    },
                }
            ),
            raw_unpack,
        )
    try:
        import pyarrow as pa
    except ImportError:
        pa = None
    if pa is not None:

        def arrow_pack():
            cols = to_record(batch)["points"]
            arrays = {
                k: pa.array(v)
                for k, v in cols.items()
                if k not in ("bucket_offsets", "bucket_counts")
            }
            arrays["bucket_counts"] = pa.ListArray.from_arrays(
                pa.array(cols["bucket_offsets"].astype(np.int32)), pa.array(cols["bucket_counts"])
            )
            table = pa.RecordBatch.from_pydict(arrays, metadata={b"aiops": orjson.dumps(meta)})
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_batch(table)
            return sink.getvalue().to_pybytes()

        def arrow_unpack(b):
            table = pa.ipc.open_stream(b).read_next_batch()
            orjson.loads(table.schema.metadata[b"aiops"])
            out = {
                name: table.column(name).to_numpy()
                for name in table.schema.names
                if name != "bucket_counts"
            }
            nested = table.column("bucket_counts")
            out["bucket_counts"], out["bucket_offsets"] = (
                nested.values.to_numpy(),
                nested.offsets.to_numpy(),
            )
            return out

        add("v2 Arrow IPC (labels as JSON metadata)", arrow_pack, arrow_unpack)
    return rows
