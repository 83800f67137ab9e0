"""Stable 64-bit series ids from a canonical, typed encoding of a series' labels.

A series is a metric name, its kind, the point's attributes and the
resource's attributes. Records on ``aiops.points/v2`` carry only the id per
point, plus one dictionary entry per series (``id → labels``), so a point no
longer drags its full label set through Kafka and memory.

The canonical form is the compact JSON text (no spaces, UTF-8, not ASCII-escaped) of::

    ["aiops.series/1", metric, kind, point_attributes, resource_attributes]

where each attribute set is a list of ``[key, type, value]`` sorted by key,
``type`` being ``"s"`` (string), ``"b"`` (bool), ``"i"`` (int) or ``"d"``
(double), or for OTLP values that are no scalar (``TaggedText``) ``"a"``
(array), ``"m"`` (key-value list), ``"x"`` (bytes) or ``"n"`` (no value).
Types are part of the identity, so an int 200 and a string "200" are
different series (the v1 series key wrote both as ``"200"``), and so are an
array and the string of its text. JSON's own
escaping makes quotes, commas and braces inside keys and values unambiguous.
Doubles are written as Python's ``repr`` (the shortest text that reads back as
the same double), ints in decimal. The id is the first 8 bytes of the
BLAKE2b digest of that text, read big-endian as a *signed* int64 (what numpy,
Arrow, Java and Kafka tooling hold without loss). It depends on nothing but the
labels: the same labels give the same id in every process and release.

>>> canonical_series("http.requests", "sum", {"code": 200, "route": "/a"}, {"service.name": "demo"})
'["aiops.series/1","http.requests","sum",[["code","i",200],["route","s","/a"]],[["service.name","s","demo"]]]'
>>> series_id("http.requests", "sum", {"code": 200}, {"service.name": "demo"})
9008627175300953781
>>> series_id("http.requests", "sum", {"code": 200}, {}) != series_id("http.requests", "sum", {"code": "200"}, {})
True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from hashlib import blake2b
from typing import Self

__all__ = [
    "SERIES_FORMAT",
    "TaggedText",
    "canonical_attributes",
    "canonical_series",
    "id_of_canonical",
    "series_id",
]

SERIES_FORMAT = "aiops.series/1"

AttributeValue = str | bool | int | float


class TaggedText(str):
    """An OTLP attribute value that is no scalar: its text (a ``str`` everywhere), type tag and typed canonical text.

    The text is for people (``["a","b"]``); the canonical text, which the
    series id hashes, types every nested value, so an array of the string
    "a,b" and an array of "a" and "b" differ even where their texts could not.

    >>> value = TaggedText('["a","b"]', "a", '[["s","a"],["s","b"]]')
    >>> value == '["a","b"]', value.tag, canonical_attributes({"k": value}) != canonical_attributes({"k": str(value)})
    (True, 'a', True)
    >>> import copy, pickle
    >>> copy.deepcopy(value).tag, pickle.loads(pickle.dumps(value)).tag
    ('a', 'a')
    """

    tag: str
    canonical: str

    def __new__(cls, text: str, tag: str, canonical: str) -> Self:
        value = super().__new__(cls, text)
        value.tag, value.canonical = tag, canonical
        return value

    def __getnewargs__(self) -> tuple[str, str, str]:  # copy and pickle keep the tag
        return str(self), self.tag, self.canonical


def _tag(value: AttributeValue) -> str:
    if isinstance(value, TaggedText):
        return value.tag
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int):
        return "i"
    if isinstance(value, float):
        return "d"
    return "s"


def canonical_attributes(attributes: Mapping[str, AttributeValue]) -> str:
    """The canonical JSON text of one attribute set: ``[key, type, value]`` triples sorted by key.

    >>> canonical_attributes({"b": True, "a": 1.5, "c": 'say "hi"'})
    '[["a","d",1.5],["b","b",true],["c","s","say \\\\"hi\\\\""]]'
    >>> canonical_attributes({})
    '[]'
    """
    return json.dumps(
        [
            [key, _tag(value), value.canonical if isinstance(value, TaggedText) else value]
            for key, value in sorted(attributes.items())
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )


def canonical_series(
    metric: str,
    kind: str,
    attributes: Mapping[str, AttributeValue],
    resource: Mapping[str, AttributeValue],
    *,
    resource_text: str | None = None,
) -> str:
    """The canonical text of a series (see the module docstring); ``resource_text`` reuses a resource's part.

    >>> canonical_series("m", "gauge", {}, {}) == json.dumps([SERIES_FORMAT, "m", "gauge", [], []], separators=(",", ":"))
    True
    """
    if resource_text is None:
        resource_text = canonical_attributes(resource)
    head = json.dumps([SERIES_FORMAT, metric, kind], separators=(",", ":"), ensure_ascii=False)
    return f"{head[:-1]},{canonical_attributes(attributes)},{resource_text}]"


def id_of_canonical(text: str) -> int:
    """The signed 64-bit id of a canonical text: BLAKE2b-64, big-endian.

    >>> id_of_canonical('["aiops.series/1","m","gauge",[],[]]')
    4892547467933774694
    """
    return int.from_bytes(blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def series_id(
    metric: str,
    kind: str,
    attributes: Mapping[str, AttributeValue],
    resource: Mapping[str, AttributeValue],
) -> int:
    """The stable 64-bit id of a series: ``id_of_canonical(canonical_series(...))``.

    >>> series_id("m", "gauge", {}, {})
    4892547467933774694
    """
    return id_of_canonical(canonical_series(metric, kind, attributes, resource))
