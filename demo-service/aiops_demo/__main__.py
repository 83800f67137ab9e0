"""``python -m aiops_demo [--host H] [--port P]``: serve the demo service with uvicorn."""

from typing import Annotated

import typer
import uvicorn

from aiops_demo.app import create_app
from aiops_demo.fault_access import FAULT_TOKEN_ENV, is_loopback
from aiops_demo.telemetry import build_resource, configure_otlp


def main(
    host: Annotated[
        str, typer.Option(envvar="AIOPS_DEMO_HOST", help="interface to bind")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="AIOPS_DEMO_PORT", help="port to bind")] = 8000,
    instance_id: Annotated[
        str | None,
        typer.Option(
            envvar="AIOPS_DEMO_INSTANCE_ID",
            help="service.instance.id [default: from OTEL_RESOURCE_ATTRIBUTES, else the host name]",
        ),
    ] = None,
    fault_token: Annotated[
        str | None,
        typer.Option(
            envvar=FAULT_TOKEN_ENV,
            help="bearer token /faults callers must send; without it only loopback clients may "
            "inject faults (prefer the variable: a flag shows in the process list)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the demo service (one worker) and export its telemetry over OTLP."""
    if not fault_token and not is_loopback(host):
        typer.echo(
            f"demo service: listening on {host} without {FAULT_TOKEN_ENV}: /faults answers "
            "loopback clients only (403 to the others)",
            err=True,
        )
    telemetry = configure_otlp(build_resource(instance_id=instance_id))
    try:
        uvicorn.run(
            create_app(telemetry=telemetry, fault_token=fault_token),
            host=host,
            port=port,
            workers=1,
            access_log=False,
            log_level="info",
        )
    finally:
        telemetry.shutdown()


if __name__ == "__main__":
    typer.run(main)
