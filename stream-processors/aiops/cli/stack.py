"""``aiops stack`` (the local stack as plain processes), ``aiops topics`` and ``aiops worker``."""

from __future__ import annotations

import typer
from rich.table import Table

from aiops.cli.output import console, fail
from aiops.settings import Settings

__all__ = ["stack_cli", "topics_cli", "worker_command"]

stack_cli = typer.Typer(
    no_args_is_help=True, help="Run the whole stack locally as plain processes, no Docker."
)
topics_cli = typer.Typer(no_args_is_help=True, help="The Kafka topics the project owns.")


@stack_cli.command("up")
def stack_up(
    load: bool = typer.Option(True, help="also run a steady load on the demo service"),
    rate: float = typer.Option(5.0, help="requests per second of that load"),
) -> None:
    """Prepare what is missing, start every component and wait until each is healthy."""
    from aiops.stack.local import up
    from aiops.stack.process import StartupError

    settings = Settings()
    try:
        up(settings, console.print, with_load=load, load_rate=rate)
    except StartupError as error:
        raise fail(str(error)) from None
    console.print(
        f"\n[bold green]stack is up.[/] Watch points flow: [bold]aiops points tail[/]; "
        f"Prometheus: http://127.0.0.1:{settings.prometheus_port}; demo: {settings.demo_url}; "
        f"logs: [bold]aiops stack logs NAME[/]; stop: [bold]aiops stack down[/]"
    )


@stack_cli.command("down")
def stack_down() -> None:
    """Stop every component, last started first."""
    from aiops.stack.local import down

    down(Settings(), console.print)


@stack_cli.command("status")
def stack_status() -> None:
    """Which components run, with their pids and health."""
    from aiops.stack.local import status

    table = Table("component", "pid", "state")
    for row in status(Settings()):
        state = (
            "[green]healthy[/]"
            if row.healthy
            else ("[red]unhealthy[/]" if row.pid else "[red]stopped[/]")
        )
        table.add_row(row.name, str(row.pid or "-"), state)
    console.print(table)


@stack_cli.command("logs")
def stack_logs(
    name: str = typer.Argument(..., help="kafka, collector, prometheus, worker, demo or load"),
    lines: int = typer.Option(50, "--lines", "-n", help="how many lines from the end"),
) -> None:
    """The last lines of a component's log."""
    from aiops.stack.local import COMPONENTS

    if name not in COMPONENTS:
        raise fail(f"unknown component {name!r}; one of {', '.join(COMPONENTS)}")
    path = Settings().stack_dir / "logs" / f"{name}.log"
    if not path.exists():
        raise fail(f"no log at {path}: has the stack run here?")
    console.print(
        "\n".join(path.read_text(errors="replace").splitlines()[-lines:]),
        markup=False,
        highlight=False,
    )


@stack_cli.command("prepare")
def stack_prepare() -> None:
    """Resolve Kafka's jars and build the collector now (``aiops stack up`` does it when missing)."""
    from aiops.stack.collector import ensure_collector
    from aiops.stack.kafka import ensure_kafka_jars

    settings = Settings()
    ensure_kafka_jars(settings, console.print)
    ensure_collector(settings, console.print)


@topics_cli.command("create")
def topics_create() -> None:
    """Create the project's topics (idempotent); an existing topic with other partitions is an error."""
    from aiops.topics import create_topics, state_topics

    settings = Settings()
    try:
        created = create_topics(settings, extra=state_topics(settings))
    except RuntimeError as error:
        raise fail(str(error)) from None
    console.print(f"created: {', '.join(created)}" if created else "all topics present")


def worker_command(
    loglevel: str = typer.Option("info", help="Faust log level"),
    restart: bool = typer.Option(
        False,
        "--restart",
        help="run the worker as a child process and start it again whenever it exits non-zero "
        "(it does when it is not alive; the local stack's restart policy)",
    ),
    processes: int | None = typer.Option(
        None,
        "--processes",
        min=1,
        help="run this many workers in the consumer group, one process each (a worker uses one "
        "core): the first on AIOPS_FAUST_WEB_PORT and AIOPS_STACK_DIR, the i-th on that port "
        "+ i with its state in <stack dir>/worker-i [default: AIOPS_WORKER_PROCESSES, 1]",
    ),
) -> None:
    """Run the stream processors (the Faust worker) in the foreground."""
    import sys

    settings = Settings()
    processes = processes or settings.worker_processes
    if processes > 1:
        from aiops.stack.restart import run_processes

        command = [sys.executable, "-m", "aiops", "worker", "--loglevel", loglevel]
        command += ["--restart"] if restart else []
        raise typer.Exit(
            run_processes(
                [(command, worker_environment(settings, index)) for index in range(processes)]
            )
        )
    if restart:
        from aiops.stack.restart import run_restarting

        raise typer.Exit(
            run_restarting([sys.executable, "-m", "aiops", "worker", "--loglevel", loglevel])
        )
    from aiops.stream.worker import run_worker

    run_worker(settings, loglevel=loglevel)


def worker_environment(settings: Settings, index: int) -> dict[str, str]:
    """What the ``index``-th of several workers changes: one process, its web port and state folder.

    >>> from pathlib import Path
    >>> worker_environment(Settings(faust_web_port=6066, stack_dir=Path("/s")), 2)
    {'AIOPS_WORKER_PROCESSES': '1', 'AIOPS_FAUST_WEB_PORT': '6068', 'AIOPS_STACK_DIR': '/s/worker-2'}
    >>> worker_environment(Settings(), 0)
    {'AIOPS_WORKER_PROCESSES': '1'}
    """
    if index == 0:
        return {"AIOPS_WORKER_PROCESSES": "1"}
    return {
        "AIOPS_WORKER_PROCESSES": "1",
        "AIOPS_FAUST_WEB_PORT": str(settings.faust_web_port + index),
        "AIOPS_STACK_DIR": str(settings.stack_dir / f"worker-{index}"),
    }
