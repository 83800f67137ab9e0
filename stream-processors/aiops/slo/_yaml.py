"""YAML documents with the line of every value, for errors that say where to look.

PyYAML composes a stream into nodes that carry their start marks; this walks
each document's node tree next to the data it constructs and records, for
every path (``("spec", "objectives", 0, "target")``), the 1-based line of the
mapping key or sequence item. Duplicate keys, which ``yaml.safe_load``
silently resolves to the last one, are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass
class LocatedDocument:
    """One YAML document: its data, the line of each path in it, and duplicate keys found."""

    data: Any
    line: int
    lines: dict[Path, int] = field(default_factory=dict)
    duplicates: list[tuple[Path, int, int]] = field(default_factory=list)
    """(path, line, line of the first occurrence) of every repeated key."""

    def line_of(self, path: Path) -> int:
        """The line of ``path``, or of its deepest ancestor that exists."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return self.line


class YamlSyntaxError(ValueError):
    """The text is not YAML; ``line`` says where the parser gave up."""

    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


def load_documents(text: str) -> list[LocatedDocument]:
    """Every non-empty document of a YAML stream, with lines.

    >>> docs = load_documents("a: 1\\nb:\\n  - x\\n  - y\\n---\\nc: 3\\n")
    >>> [d.data for d in docs], docs[0].lines[("b", 1)], docs[1].line
    ([{'a': 1, 'b': ['x', 'y']}, {'c': 3}], 4, 6)
    """
    loader = yaml.SafeLoader(text)
    documents = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            duplicates: list[tuple[Path, int, int]] = []
            _find_duplicates(loader, node, (), duplicates, set())  # before merge keys are flattened
            data = loader.construct_document(node)
            if data is None:
                continue
            document = LocatedDocument(
                data=data, line=node.start_mark.line + 1, duplicates=duplicates
            )
            document.lines[()] = document.line
            _walk(loader, node, (), document, set())
            documents.append(document)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        context = error.context or ""
        if context and error.context_mark and mark and error.context_mark.line != mark.line:
            context += f" (from line {error.context_mark.line + 1})"
        problem = ": ".join(p for p in (context, error.problem) if p)
        raise YamlSyntaxError(problem or str(error), mark.line + 1 if mark else None) from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(str(error), None) from None
    finally:
        loader.dispose()
    return documents


def _key(loader: yaml.SafeLoader, key_node: yaml.Node) -> Any:
    try:
        key = loader.construct_object(key_node, deep=True)
    except yaml.YAMLError:
        return None
    return key if isinstance(key, str | int | float | bool) else None


def _children(node: yaml.Node):
    if isinstance(node, yaml.MappingNode):
        return [(key_node, value_node) for key_node, value_node in node.value]
    if isinstance(node, yaml.SequenceNode):
        return [(index, item) for index, item in enumerate(node.value)]
    return []


def _find_duplicates(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: Path,
    found: list[tuple[Path, int, int]],
    active: set[int],
) -> None:
    if id(node) in active:  # an alias of an enclosing node: a recursive structure
        return
    active.add(id(node))
    seen: dict[Any, int] = {}
    for key, child in _children(node):
        if isinstance(key, yaml.Node):
            if key.tag == "tag:yaml.org,2002:merge":
                continue
            line, key = key.start_mark.line + 1, _key(loader, key)
            if key is None:
                continue
            if key in seen:
                found.append(((*path, key), line, seen[key]))
            seen[key] = line
        _find_duplicates(loader, child, (*path, key), found, active)
    active.discard(id(node))


def _walk(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: Path,
    document: LocatedDocument,
    active: set[int],
) -> None:
    if id(node) in active:
        return
    active.add(id(node))
    for key, child in _children(node):
        if isinstance(key, yaml.Node):
            line, key = key.start_mark.line + 1, _key(loader, key)
            if key is None:
                continue
        else:
            line = child.start_mark.line + 1
        document.lines[(*path, key)] = (
            line  # the last of repeated or merged keys wins, as in the data
        )
        _walk(loader, child, (*path, key), document, active)
    active.discard(id(node))
