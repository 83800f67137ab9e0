"""A Dockerfile read as data: its stages, base images, COPY sources, user and command.

Enough of the Dockerfile syntax for checks without a Docker engine (pinned base
images, a non-root user, every COPY source present in the build context):
``ARG`` defaults (before and inside stages), ``FROM ... AS``, ``COPY`` (shell and
JSON forms, ``--from``), ``USER``, ``CMD``, ``ENTRYPOINT``, line continuations and
comments. ``RUN`` and other instructions are kept by name only.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

__all__ = ["Copy", "Stage", "dockerfile_args", "parse_dockerfile"]

_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")


@dataclass(frozen=True)
class Copy:
    """One ``COPY``: its sources (context paths, or paths in stage ``from_stage``) and destination."""

    sources: tuple[str, ...]
    destination: str
    from_stage: str | None = None


@dataclass
class Stage:
    """One build stage, its base image with ARG defaults substituted."""

    base: str
    name: str | None
    copies: list[Copy] = field(default_factory=list)
    user: str | None = None
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    instructions: list[str] = field(default_factory=list)


def parse_dockerfile(text: str, build_args: dict[str, str] | None = None) -> list[Stage]:
    """The stages of a Dockerfile, in order.

    >>> stages = parse_dockerfile('''
    ... ARG PYTHON_IMAGE=python:3.12-slim
    ... FROM ${PYTHON_IMAGE} AS build
    ... COPY pyproject.toml README.md ./
    ... FROM ${PYTHON_IMAGE}
    ... COPY --from=build /opt/venv /opt/venv
    ... USER 10001:10001
    ... CMD ["aiops", "worker"]
    ... ''')
    >>> [(s.base, s.name) for s in stages]
    [('python:3.12-slim', 'build'), ('python:3.12-slim', None)]
    >>> stages[0].copies[0].sources, stages[1].copies[0].from_stage, stages[1].user, stages[1].cmd
    (('pyproject.toml', 'README.md'), 'build', '10001:10001', ['aiops', 'worker'])
    """
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    stage_args: dict[str, str] = {}
    for instruction, argument in _instructions(text):
        if instruction == "ARG":
            name, _, default = argument.partition("=")
            value = (build_args or {}).get(name.strip(), default.strip())
            (stage_args if stages else global_args)[name.strip()] = value
        elif instruction == "FROM":
            words = argument.split()
            base = _substitute(words[0], {**global_args, **(build_args or {})})
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=base, name=name))
            stage_args = {}
        elif not stages:
            raise ValueError(f"{instruction} before the first FROM")
        else:
            stage = stages[-1]
            stage.instructions.append(instruction)
            if instruction == "COPY":
                stage.copies.append(_copy(argument))
            elif instruction == "USER":
                stage.user = argument.strip()
            elif instruction in ("CMD", "ENTRYPOINT"):
                setattr(stage, instruction.lower(), _exec_form(argument))
    return stages


def dockerfile_args(text: str) -> dict[str, str]:
    """Every ``ARG`` with its default, global or in a stage (the last one wins).

    >>> dockerfile_args("ARG GO_IMAGE=golang:1.26\\nFROM ${GO_IMAGE}\\nARG OCB_VERSION=v0.165.0\\n")
    {'GO_IMAGE': 'golang:1.26', 'OCB_VERSION': 'v0.165.0'}
    """
    args = {}
    for instruction, argument in _instructions(text):
        if instruction == "ARG":
            name, _, default = argument.partition("=")
            args[name.strip()] = default.strip()
    return args


def _instructions(text: str):
    logical = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not logical and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        logical += stripped
        instruction, _, argument = logical.partition(" ")
        yield instruction.upper(), argument.strip()
        logical = ""


def _substitute(value: str, variables: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1) or match.group(3)
        return variables.get(name, match.group(2) or "")

    return _VARIABLE.sub(replace, value)


def _copy(argument: str) -> Copy:
    words = shlex.split(argument)
    options = [word for word in words if word.startswith("--")]
    paths = [word for word in words if not word.startswith("--")]
    if argument.lstrip().startswith("[") or (paths and paths[0].startswith("[")):
        paths = json.loads(argument[argument.index("[") :])
    from_stage = next(
        (option.split("=", 1)[1] for option in options if option.startswith("--from=")), None
    )
    return Copy(tuple(paths[:-1]), paths[-1], from_stage)


def _exec_form(argument: str) -> list[str]:
    argument = argument.strip()
    if argument.startswith("["):
        return list(json.loads(argument))
    return ["/bin/sh", "-c", argument]
