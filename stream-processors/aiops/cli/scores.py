"""``aiops scores``: the anomaly scores on the scores topic, one line per track and point."""

from __future__ import annotations

import typer

from aiops.settings import Settings

__all__ = ["scores_cli"]

scores_cli = typer.Typer(no_args_is_help=True, help="Anomaly scores on the scores topic.")


@scores_cli.command("tail")
def scores_tail(
    from_beginning: bool = typer.Option(
        False, "--from-beginning", help="start at the oldest retained score"
    ),
    limit: int = typer.Option(0, help="stop after this many scores (0: follow until Ctrl-C)"),
    contains: str = typer.Option("", help="only tracks whose name contains this text"),
    min_score: float = typer.Option(
        0.0, help="only scores at or above this (0.5: the alert threshold)"
    ),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per score, for piping"),
    idle_timeout: float = typer.Option(
        0, help="give up after this many seconds without a score (0: never)"
    ),
) -> None:
    """Print scores as they arrive, one line (or JSON object) per track and point."""
    from aiops.anomaly.engine import scores_of
    from aiops.cli.tail import print_items

    settings = Settings()
    print_items(
        settings,
        settings.topic_scores,
        scores_of,
        _score_line,
        keep=lambda s: contains in s.get("track", "") and (s.get("score") or 0.0) >= min_score,
        from_beginning=from_beginning,
        limit=limit,
        as_json=as_json,
        idle_timeout=idle_timeout,
        what="score",
    )


def _score_line(score: dict) -> str:
    """One score in a line: its score, service, the series' metric and attributes, signal, value and expectation.

    >>> _score_line({"score": 0.62, "service": "demo", "metric": "m", "attributes": {"route": "/a"},
    ...              "signal": "rate", "value": 12.5, "expected": 4.0, "sigma": 1.5})
    '[bold red]0.620[/] demo  m{route=/a} rate  12.5 (expected 4 ± 1.5)'
    >>> _score_line({"score": None, "service": "demo", "metric": "m", "attributes": {}, "signal": "value",
    ...              "value": None, "expected": None, "sigma": None})
    '[dim]  -  [/] demo  m{} value  - (expected -)'
    """

    def number(x: float | None) -> str:
        return "-" if x is None else f"{x:.6g}"

    value = score.get("score")
    shown = (
        "[dim]  -  [/]"
        if value is None
        else (f"[bold red]{value:.3f}[/]" if value >= 0.5 else f"{value:.3f}")
    )
    attributes = ",".join(f"{k}={v}" for k, v in sorted((score.get("attributes") or {}).items()))
    expected = number(score.get("expected"))
    if score.get("sigma") is not None and score.get("expected") is not None:
        expected += f" ± {number(score['sigma'])}"
    return (
        f"{shown} {score.get('service', '?')}  {score.get('metric', '?')}{{{attributes}}} "
        f"{score.get('signal', '?')}  {number(score.get('value'))} (expected {expected})"
    )
