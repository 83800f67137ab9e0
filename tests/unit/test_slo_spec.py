"""The SLO spec at the door: good/ fixtures load, each bad/ fixture fails with its field, line and reason.

Every bad/ fixture is a good/ fixture (named on its first line, ``# base:``)
with one field changed; its second line (``# expect:``) is the problem it
must be rejected with: ``<line>: <field path>: <reason>``.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import jsonschema
import pytest

from aiops.settings import Settings
from aiops.slo.artifacts import SCHEMA_FILE, schema_text
from aiops.slo.spec import EXAMPLE, SpecError, json_schema, load_slos, parse_slos

DATA = Path(__file__).resolve().parents[1] / "data" / "slo"
GOOD = sorted((DATA / "good").glob("*.yaml"))
BAD = sorted((DATA / "bad").glob("*.yaml"))


def _header(path: Path) -> tuple[str, str]:
    first, second = path.read_text().splitlines()[:2]
    assert first.startswith("# base: ") and second.startswith("# expect: "), f"{path.name}: header"
    return first.removeprefix("# base: "), second.removeprefix("# expect: ")


def _where(problem) -> str:
    return (
        f"{problem.line}: {problem.path}: {problem.message}"
        if problem.path
        else f"{problem.line}: {problem.message}"
    )


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_fixtures_load(path: Path):
    assert load_slos(path)


def test_the_default_spec_is_valid():
    slos = load_slos(Settings().slo_file)
    assert [s.id for s in slos] == [
        "demo-service-api-availability",
        "demo-service-api-latency",
        "demo-service-availability",
    ]


def test_there_are_bad_fixtures_for_every_kind_of_mistake():
    assert len(BAD) >= 40


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_fixture_is_rejected_naming_its_field_and_line(path: Path):
    _, expected = _header(path)
    with pytest.raises(SpecError) as error:
        load_slos(path)
    found = [_where(p) for p in error.value.problems]
    assert expected in found
    assert all(str(p).startswith(f"{path}:") for p in error.value.problems)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_fixture_changes_one_field_of_its_base(path: Path):
    base, _ = _header(path)
    good = (DATA / "good" / base).read_text().splitlines()[2:]
    bad = path.read_text().splitlines()[2:]
    changes = [
        op
        for op in difflib.SequenceMatcher(a=good, b=bad, autojunk=False).get_opcodes()
        if op[0] != "equal"
    ]
    assert len(changes) == 1, f"{path.name} differs from {base} in {len(changes)} places"


def test_every_problem_of_every_document_is_reported_in_file_order():
    two = (
        EXAMPLE.replace("target: 0.999", "target: 2")
        + "---\n"
        + EXAMPLE.replace("kind: SLO", "kind: SLI")
    )
    with pytest.raises(SpecError) as error:
        parse_slos(two, "slos.yaml")
    assert str(error.value).splitlines() == [
        "slos.yaml:28: slo[0].spec.objectives[0].target: must be < 1",
        "slos.yaml:31: slo[1].kind: must be 'SLO'",
    ]


def test_a_missing_field_points_at_its_parent():
    without_service = EXAMPLE.replace("  service: demo-service\n", "")
    with pytest.raises(SpecError, match=r"slos.yaml:5: slo\[0\].spec.service: required"):
        parse_slos(without_service, "slos.yaml")


def test_empty_unreadable_and_non_mapping_files(tmp_path: Path):
    with pytest.raises(SpecError, match="holds no SLO"):
        parse_slos("# nothing here\n", "slos.yaml")
    with pytest.raises(SpecError, match="cannot read"):
        load_slos(tmp_path / "missing.yaml")
    with pytest.raises(SpecError, match=r"slos.yaml:1: slo\[0\]: must be a mapping"):
        parse_slos("- just\n- a list\n", "slos.yaml")


def test_a_trailing_document_separator_is_not_an_slo():
    assert len(parse_slos(EXAMPLE + "---\n")) == 1


def test_target_percent_and_target_mean_the_same():
    as_percent = parse_slos(EXAMPLE.replace("target: 0.999", "targetPercent: 99.9"))[0]
    assert as_percent.spec.objectives[0].ratio == pytest.approx(0.999)


def test_committed_json_schema_matches_the_models():
    committed = (Settings().repo_root / SCHEMA_FILE).read_text()
    assert committed == schema_text(), "run `aiops slo generate` and commit the result"


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_fixtures_validate_against_the_json_schema(path: Path):
    import yaml

    for document in yaml.safe_load_all(path.read_text()):
        jsonschema.validate(document, json_schema())


def test_the_json_schema_rejects_what_the_models_reject():
    import yaml

    document = yaml.safe_load(EXAMPLE.replace("target: 0.999", "target: 1.5"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, json_schema())
