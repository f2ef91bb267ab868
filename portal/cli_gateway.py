"""`portal gateway`: the session gateway (portal/gateway) in the foreground."""

from __future__ import annotations

import click

from portal import cli_common


@click.command("gateway")
@click.option("--bind", default="127.0.0.1:8080", show_default=True,
              help="The public HOST:PORT (the one address users open).")
@click.option("--app", "app_url", default="http://127.0.0.1:8081", show_default=True,
              help="Where gunicorn listens: http://HOST:PORT or unix:/path/to/socket.")
def gateway(bind, app_url):
    """Serve pages and API (forwarded to the app), `/s/<id>/` and the terminal socket from
    one asyncio process: open websockets hold no app thread and no database connection."""
    import logging

    from portal.gateway.server import gateway_for, serve

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    raise_open_files_limit()
    host, _, port = bind.rpartition(":")
    serve(gateway_for(cli_common.make_app(), app_url), host or "127.0.0.1", int(port))


def raise_open_files_limit() -> int:
    """Every open websocket holds two descriptors (client and session): lift the soft limit
    (often 1024) to the hard one, so a thousand sockets do not fail with EMFILE."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def register(main: click.Group) -> None:
    main.add_command(gateway)
