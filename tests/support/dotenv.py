"""Reading ``.env`` and kustomize env files: ``KEY=VALUE`` lines, ``#`` comments."""

from __future__ import annotations

from pathlib import Path

__all__ = ["parse_env", "read_env_file"]


def parse_env(text: str) -> dict[str, str]:
    """The variables of an env file, in order; quotes around a whole value are removed.

    Only the subset the project writes: no ``export``, no escapes, no multi-line values.

    >>> parse_env("# images\\nKAFKA_IMAGE=apache/kafka:4.4.0\\n\\nGREETING='hello there'\\n")
    {'KAFKA_IMAGE': 'apache/kafka:4.4.0', 'GREETING': 'hello there'}
    """
    values = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ValueError(f"line {number}: expected KEY=VALUE, got {line!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def read_env_file(path: Path) -> dict[str, str]:
    """``parse_env`` of a file; the error names the file."""
    try:
        return parse_env(path.read_text())
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
