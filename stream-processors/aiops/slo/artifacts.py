"""What ``aiops generate`` writes for SLOs: the Prometheus rules and the spec's JSON Schema.

Both are functions of their inputs only (the spec file, the models), so a
test regenerates them into a temporary folder and fails when the committed
files differ (``drift``). Paths are relative to the repository root:

- ``storage/prometheus/rules/slos.yml``: the rules of the spec file (one
  file, whatever the spec is called, so switching specs replaces the rules);
- ``stream-processors/aiops/slo/openslo-subset.schema.json``: the JSON
  Schema of one SLO document, for editors and other tools.

>>> from aiops.settings import Settings
>>> sorted(str(p) for p in artifacts(Settings().slo_file, Settings().repo_root))
['storage/prometheus/rules/slos.yml', 'stream-processors/aiops/slo/openslo-subset.schema.json']
"""

from __future__ import annotations

import json
from pathlib import Path

from aiops.slo.objective import objectives_from
from aiops.slo.rules import render_rules
from aiops.slo.spec import json_schema, load_slos

__all__ = ["RULES_FILE", "SCHEMA_FILE", "artifacts", "drift", "schema_text", "write_artifacts"]

RULES_FILE = Path("storage/prometheus/rules/slos.yml")
"""Where the rules go, relative to the repository root (Prometheus loads ``rules/*.yml``)."""
SCHEMA_FILE = Path("stream-processors/aiops/slo/openslo-subset.schema.json")
"""Where the spec's JSON Schema goes, relative to the repository root."""


def schema_text() -> str:
    """The JSON Schema, as committed: sorted keys, two-space indent, a final newline."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def artifacts(spec_file: Path, repo_root: Path) -> dict[Path, str]:
    """Relative path → content of every SLO artefact; ``SpecError`` if the spec is wrong."""
    spec_file = Path(spec_file)
    objectives = objectives_from(load_slos(spec_file))
    return {
        RULES_FILE: render_rules(objectives, _display_path(spec_file, repo_root)),
        SCHEMA_FILE: schema_text(),
    }


def write_artifacts(spec_file: Path, repo_root: Path, out_dir: Path | None = None) -> list[Path]:
    """Write every artefact under ``out_dir`` (the repository root by default); returns the paths written.

    Validation comes first: nothing is written when the spec is wrong.
    """
    generated = artifacts(spec_file, repo_root)
    root = Path(out_dir) if out_dir is not None else Path(repo_root)
    written = []
    for relative, text in generated.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)  # Prometheus may reload at any moment: never show it half a file
        written.append(path)
    return written


def drift(spec_file: Path, repo_root: Path) -> list[Path]:
    """The committed artefacts that differ from what generating now would write (missing ones included)."""
    stale = []
    for relative, text in artifacts(spec_file, repo_root).items():
        path = Path(repo_root) / relative
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(relative)
    return stale


def _display_path(path: Path, repo_root: Path) -> str:
    try:
        return path.resolve().relative_to(Path(repo_root).resolve()).as_posix()
    except ValueError:
        return path.name
