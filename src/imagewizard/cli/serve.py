"""``imagewizard serve``: the web app and REST API on one command."""

from __future__ import annotations

from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    app.command(
        epilog="""
Examples:

    imagewizard serve                                # http://127.0.0.1:8000 on this machine only

    imagewizard serve --workers 2 --port 8080

    IMAGEWIZARD_TOKEN=long-secret imagewizard serve --host 0.0.0.0   # reachable by others: a token is required

    imagewizard serve --cluster local:4              # jobs run on a Dask cluster

The REST API is documented at /docs (OpenAPI). Needs the web extra: pip install 'imagewizard[web]'.
"""
    )(serve)


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (beyond loopback a token is required)"),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="port to listen on"),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="worker processes that run the jobs"),
    cluster: Optional[str] = typer.Option(
        None, "--cluster", help="run jobs on a Dask cluster: tcp://HOST:8786 or local:N"
    ),
    token: Optional[List[str]] = typer.Option(
        None, "--token", help="token callers must send (repeat for several users; default: $IMAGEWIZARD_TOKEN)"
    ),
    max_upload_mb: float = typer.Option(64.0, "--max-upload-mb", min=0.01, help="largest request body, MiB (413)"),
    max_pixels: int = typer.Option(50_000_000, "--max-pixels", min=1, help="largest image, width x height (413)"),
    max_queued: int = typer.Option(32, "--max-queued", min=1, help="jobs queued or running at once (429 above)"),
    max_run_s: float = typer.Option(600.0, "--max-run-s", min=1, help="seconds a job may run before it is stopped"),
    result_lifetime_s: float = typer.Option(
        3600.0, "--result-lifetime-s", min=1, help="seconds results and temporary files are kept after a job ends"
    ),
) -> None:
    """Serve the web app and the REST API: drop photos in a browser, see the plan, get them back better."""
    import importlib.util

    from imagewizard.core.errors import MissingDependencyError, ParameterError
    from imagewizard.web.settings import Settings, check_binding, tokens_from

    missing = [m for m in ("fastapi", "uvicorn", "multipart") if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingDependencyError(f"serve needs {', '.join(missing)}: pip install 'imagewizard[web]'")
    if cluster is not None and workers != 1:
        raise ParameterError("give --workers or --cluster, not both (a cluster has its own workers)")
    if cluster is not None:
        from imagewizard.run.cluster import parse_cluster

        parse_cluster(cluster)
    tokens = tokens_from(token)
    check_binding(host, tokens)
    settings = Settings(
        max_upload_mb=max_upload_mb,
        max_pixels=max_pixels,
        max_queued=max_queued,
        max_run_s=max_run_s,
        result_lifetime_s=result_lifetime_s,
        workers=workers,
        tokens=tokens,
        cluster=cluster,
    )
    import socket

    import uvicorn

    from imagewizard.web.app import create_app

    try:  # a busy port is a one-line error, not a uvicorn traceback
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as exc:
        raise ParameterError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"ImageWizard is serving on http://{shown}:{port}  (open it in a browser; API docs at /docs)")
    if tokens:
        typer.echo("a token is required: the page asks for it once")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", access_log=False)
