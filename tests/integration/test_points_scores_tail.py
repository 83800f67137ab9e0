"""`aiops points tail` and `aiops scores tail` against a real broker: one line per point or score of a batch record."""

import json
import os
import subprocess
import sys
import uuid

import orjson
import pytest
from confluent_kafka import Producer

from aiops.anomaly.engine import Score, scores_of, scores_records
from aiops.bench.synthetic import synthetic_exports
from aiops.decode.columnar import decode_columns
from aiops.decode.delta_columns import DeltaState
from aiops.decode.points_v2 import encode, points_of, to_record
from aiops.kafka_config import client_config
from aiops.settings import Settings, env_var
from aiops.topics import create_topics

pytestmark = pytest.mark.integration


def _tail(settings: Settings, *args: str) -> list[dict]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")},
        env_var("kafka_bootstrap_servers"): settings.kafka_bootstrap_servers,
        env_var("topic_points"): settings.topic_points,
        env_var("topic_scores"): settings.topic_scores,
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "aiops",
            *args,
            "--from-beginning",
            "--json",
            "--idle-timeout",
            "20",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_tails_print_one_json_object_per_point_and_per_score(kafka_bootstrap):
    run = uuid.uuid4().hex[:8]
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_points=f"aiops.points.{run}",
        topic_scores=f"aiops.scores.{run}",
    )
    create_topics(settings)
    ((payload,),) = synthetic_exports(resources=1, series=12, exports=1)
    record = to_record(DeltaState().apply(decode_columns(payload).batches[0]))
    v1_point = {**points_of(record)[0], "series": "legacy{}@{}"}
    scores = [
        Score(
            "q{}@{}|value", "q{}@{}", "value", "q", {}, {"service.name": "a"}, 10, 1.0, 1.0, 0.1, s
        )
        for s in (0.1, 0.7)
    ]
    producer = Producer(client_config(settings))
    # one partition, so the order they are read in is the order they were written in
    producer.produce(settings.topic_points, key=b"r", value=encode(record), partition=0)
    producer.produce(
        settings.topic_points, key=b"s", value=json.dumps(v1_point).encode(), partition=0
    )
    for key, value in scores_records(scores).items():
        producer.produce(settings.topic_scores, key=key.encode(), value=orjson.dumps(value))
    assert producer.flush(10) == 0

    points = _tail(settings, "points", "tail", "--limit", "13")
    assert points == [*points_of(record), v1_point], (
        "a v2 record's points, then a v1 record as it is"
    )
    high = _tail(settings, "scores", "tail", "--limit", "1", "--min-score", "0.5")
    assert high == [
        s for s in scores_of(next(iter(scores_records(scores).values()))) if s["score"] >= 0.5
    ]
