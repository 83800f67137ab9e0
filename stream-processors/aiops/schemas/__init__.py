"""One versioned model per topic the project owns; their JSON Schemas are committed beside them.

``json_schemas()`` renders every schema; ``aiops generate`` writes them to
``schemas/json/`` and a test fails when the committed files drift.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from aiops.schemas.alerts import AlertV1, alert_id
from aiops.schemas.deadletter import DeadLetterV1
from aiops.schemas.points import PointV1
from aiops.schemas.points_v2 import PointsV2
from aiops.schemas.scores import ScoresV2, ScoresV3, ScoreV1
from aiops.schemas.sli import SliV1, SliV2

__all__ = [
    "TOPIC_SCHEMAS",
    "AlertV1",
    "DeadLetterV1",
    "PointV1",
    "PointsV2",
    "ScoreV1",
    "ScoresV2",
    "ScoresV3",
    "SliV1",
    "SliV2",
    "alert_id",
    "json_schemas",
    "write_json_schemas",
]

TOPIC_SCHEMAS: dict[str, type[BaseModel]] = {
    "aiops.points.v1": PointV1,
    "aiops.points.v2": PointsV2,
    "aiops.sli.v1": SliV1,
    "aiops.sli.v2": SliV2,
    "aiops.scores.v1": ScoreV1,
    "aiops.scores.v2": ScoresV2,
    "aiops.scores.v3": ScoresV3,
    "aiops.deadletter.v1": DeadLetterV1,
    "aiops.alerts.v1": AlertV1,
}

JSON_DIR = Path(__file__).parent / "json"


def json_schemas() -> dict[str, str]:
    """File name → JSON Schema text (sorted keys), for every topic schema."""
    return {
        f"{name}.schema.json": json.dumps(
            model.model_json_schema(by_alias=True), indent=2, sort_keys=True
        )
        + "\n"
        for name, model in TOPIC_SCHEMAS.items()
    }


def write_json_schemas(directory: Path = JSON_DIR) -> list[Path]:
    """Write every topic's JSON Schema into ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in json_schemas().items():
        path = directory / name
        path.write_text(text)
        written.append(path)
    return written
