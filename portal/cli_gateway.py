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
    host, _, port = bind.rpartition(":")
    serve(gateway_for(cli_common.make_app(), app_url), host or "127.0.0.1", int(port))


def register(main: click.Group) -> None:
    main.add_command(gateway)
