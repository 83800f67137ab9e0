"""Rich renderings of a load run: the live progress line and the final summary table."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table

from aiops_producers.summary import LoadSummary

__all__ = ["Progress", "progress_table", "summary_table"]


@dataclass(frozen=True)
class Progress:
    """A snapshot of a running load: what the live display shows."""

    elapsed_s: float
    goal: str
    sent: int
    in_flight: int
    by_status: dict[int, int]
    transport_errors: int
    rate: float
    target_rate: float
    phase: str


def progress_table(p: Progress) -> Table:
    """One row: time, requests, statuses, rates and the scenario phase."""
    table = Table(box=None, show_edge=False)
    for column in ("elapsed", "sent", "in flight", "status", "rate", "phase"):
        table.add_column(column)
    statuses = " ".join(f"{code}:{n}" for code, n in sorted(p.by_status.items()))
    if p.transport_errors:
        statuses += f" [red]no answer:{p.transport_errors}[/red]"
    table.add_row(
        f"{p.elapsed_s:6.1f}s / {p.goal}",
        str(p.sent),
        str(p.in_flight),
        statuses or "-",
        f"{p.rate:.1f}/s of {p.target_rate:.1f}",
        p.phase,
    )
    return table


def summary_table(summary: LoadSummary) -> Table:
    """Counts per (route, status), transport errors, then totals; the phases in the caption."""
    table = Table(
        title=f"load on {summary.base_url}: {summary.sent} requests in "
        f"{summary.duration_s:.1f}s ({summary.rate:.1f}/s)"
    )
    table.add_column("route")
    table.add_column("status", justify="right")
    table.add_column("count", justify="right")
    for (route, status), n in summary.counts.items():
        style = "red" if status >= 500 else "yellow" if status >= 400 else ""
        table.add_row(route, f"[{style}]{status}[/{style}]" if style else str(status), str(n))
    for (route, error), n in summary.transport_errors.items():
        table.add_row(route, f"[red]{error}[/red]", str(n))
    if summary.phases:
        table.caption = "; ".join(
            f"{p.name} on {p.route}: {p.ended_at - p.started_at:.1f}s" for p in summary.phases
        )
    return table
