"""``aiops points``: the decoded data points on the points topic."""

from __future__ import annotations

import typer

from aiops.settings import Settings

__all__ = ["points_cli"]

points_cli = typer.Typer(no_args_is_help=True, help="Decoded data points on the points topic.")


@points_cli.command("tail")
def points_tail(
    from_beginning: bool = typer.Option(
        False, "--from-beginning", help="start at the oldest retained point"
    ),
    limit: int = typer.Option(0, help="stop after this many points (0: follow until Ctrl-C)"),
    contains: str = typer.Option("", help="only series whose key contains this text"),
    as_json: bool = typer.Option(False, "--json", help="one JSON record per line, for piping"),
    idle_timeout: float = typer.Option(
        0, help="give up after this many seconds without a point (0: never)"
    ),
) -> None:
    """Print decoded points as they arrive on the points topic, one line (or JSON object) per point."""
    from aiops.cli.tail import print_items
    from aiops.decode.points_v2 import points_of

    settings = Settings()
    print_items(
        settings,
        settings.topic_points,
        points_of,
        _point_line,
        keep=lambda point: contains in point.get("series", ""),
        from_beginning=from_beginning,
        limit=limit,
        as_json=as_json,
        idle_timeout=idle_timeout,
        what="point",
    )


def _point_line(point: dict) -> str:
    """One point in a line: kind, service, metric with its attributes, and the value or histogram delta.

    >>> _point_line({"kind": "sum", "metric": "orders", "attributes": {"shop": "eu"},
    ...              "resource": {"service.name": "demo"}, "value": 3.0})
    '[cyan]sum      [/] demo  orders{shop=eu}  [bold]3[/]'
    """
    if point.get("kind") == "histogram":
        value = f"count+{point['count']} sum+{point['sum']:.4g}"
    else:
        value = f"{point.get('value', 0):.6g}"
    attributes = ",".join(f"{k}={v}" for k, v in sorted(point.get("attributes", {}).items()))
    service = point.get("resource", {}).get("service.name", "?")
    return f"[cyan]{point.get('kind', '?'):9}[/] {service}  {point.get('metric', '?')}{{{attributes}}}  [bold]{value}[/]"
