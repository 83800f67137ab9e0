"""Label matchers in Prometheus's syntax, on OpenTelemetry attribute names: ``http.route=~"/api/.*"``.

A spec selects series with matchers written as PromQL writes them (``=``,
``!=``, ``=~``, ``!~``, the value in double quotes), but naming the
OpenTelemetry attributes the stream sees (``http.route``, ``service.name``).
The rule generator translates the names to Prometheus labels
(``http_route``); the stream matches points directly.

Matching follows Prometheus: regular expressions are anchored at both ends,
and an attribute a point does not have matches as the empty string (so
``x!=""`` means "x is set"). Python's ``re`` stands in for RE2; patterns that
use RE2-only syntax are rejected when the spec is loaded, patterns that use
Python-only syntax would be rejected by Prometheus (``promtool check rules``).

>>> m = Matcher.parse('http.response.status_code=~"5.."')
>>> m.matches("503"), m.matches("200"), str(m)
(True, False, 'http.response.status_code=~"5.."')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Matcher", "attribute_text"]

Op = Literal["=", "!=", "=~", "!~"]

_MATCHER = re.compile(
    r'^\s*(?P<label>[A-Za-z_][A-Za-z0-9_.\-]*)\s*(?P<op>=~|!~|!=|=)\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*$'
)


def attribute_text(value: object) -> str:
    """An attribute value as a label value: booleans lower case, everything else ``str``.

    >>> attribute_text(True), attribute_text(503), attribute_text("/api/users")
    ('true', '503', '/api/users')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Matcher:
    """One label matcher: an attribute name, an operator and a value (a regex for ``=~`` and ``!~``).

    >>> Matcher("http.route", "!~", "/api/.*").matches("/health")
    True
    """

    label: str
    op: Op
    value: str
    _regex: re.Pattern | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.op in ("=~", "!~"):
            try:
                object.__setattr__(self, "_regex", re.compile(self.value))
            except re.error as error:
                raise ValueError(
                    f"{self.label}{self.op}: {self.value!r} is not a valid regular expression: {error}"
                )

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """A matcher from its text, ``label op "value"``.

        Inside the quotes ``\\"`` is a quote and ``\\\\`` a backslash; any other
        backslash is kept, so ``code=~"5\\d\\d"`` is the regex ``5\\d\\d``.

        >>> Matcher.parse('service.name="demo-service"')
        Matcher(label='service.name', op='=', value='demo-service')
        >>> Matcher.parse("http.route=/api")
        Traceback (most recent call last):
        ...
        ValueError: 'http.route=/api' is not a matcher: write label="value" with =, !=, =~ or !~ and the value in double quotes
        """
        match = _MATCHER.match(text) if isinstance(text, str) else None
        if not match:
            raise ValueError(
                f'{text!r} is not a matcher: write label="value" with =, !=, =~ or !~ and the value in double quotes'
            )
        value = re.sub(r'\\(["\\])', r"\1", match.group("value"))
        return cls(match.group("label"), match.group("op"), value)  # type: ignore[arg-type]

    def matches(self, value: object) -> bool:
        """Whether an attribute value (missing: ``None``, which matches as ``""``) passes."""
        text = attribute_text(value)
        if self.op == "=":
            return text == self.value
        if self.op == "!=":
            return text != self.value
        assert self._regex is not None
        found = self._regex.fullmatch(text) is not None
        return found if self.op == "=~" else not found

    def promql(self, label: str | None = None) -> str:
        """The matcher in PromQL, under ``label`` (the Prometheus name) if given.

        >>> Matcher.parse('http.route=~"/api/.*"').promql("http_route")
        'http_route=~"/api/.*"'
        """
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{label or self.label}{self.op}"{escaped}"'

    def __str__(self) -> str:
        return self.promql()
