"""The `portal` command for admins and users on the login node: the same services as the pages."""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

import click

from portal import cli_common
from portal.cli_common import fail as _fail
from portal.config import STATE_DIR, VAR_DIR


def _write_private(path: Path, text: str) -> None:
    """Create `path` with mode 0600 from the start (no window where others can read it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


@click.group()
@click.pass_context
def main(ctx):
    """Self-service GPU portal for Slurm clusters."""
    from portal.services import audit

    # What this command does is audited as its Unix user, from "cli" (the worker command's
    # own cycles are the worker's: it marks itself).
    token = audit.command_origin("cli", cli_common.invoking_unix_user())
    ctx.call_on_close(lambda: audit.end_command_origin(token))


@main.command()
@click.option("--admin", "admin_name", default="admin", show_default=True)
@click.option("--demo/--no-demo", default=False, help="Also create the dev cluster's demo users.")
def init(admin_name: str, demo: bool):
    """Private state directory, secret key, database schema and the first admin (idempotent)."""
    from portal import db, statedir
    from portal.migrate import upgrade
    from portal.services import bootstrap

    os.umask(0o077)  # everything init writes is the portal's alone (see portal/statedir.py)
    statedir.make_private_dir(STATE_DIR)
    for name in statedir.move_legacy_state(VAR_DIR, STATE_DIR):
        click.echo(f"moved var/{name} into {STATE_DIR}", err=True)
    secret_file = STATE_DIR / "secret_key"
    if not secret_file.exists():
        _write_private(secret_file, secrets.token_urlsafe(48) + "\n")
    app = cli_common.make_app()
    db_file = statedir.sqlite_path(app.config["DATABASE_URL"])
    if db_file is not None:
        statedir.create_private(db_file)
    upgrade(app.config["DATABASE_URL"])
    with app.app_context():
        creds_file = STATE_DIR / "admin-credentials"
        created = bootstrap.ensure_admin(admin_name)
        if created:
            _write_private(creds_file, f"username={created[0]}\npassword={created[1]}\n")
        if demo:
            for name, password in bootstrap.ensure_demo().items():
                _write_private(STATE_DIR / f"demo-credentials-{name}", f"{name}\n{password}\n")
        db.session.remove()
    click.echo(creds_file.read_text().strip() if creds_file.exists() else "admin exists")


@main.group()
def db():
    """Database schema."""


@db.command("upgrade")
def db_upgrade():
    """Apply Alembic migrations up to the newest."""
    from portal.migrate import upgrade

    upgrade(cli_common.make_app().config["DATABASE_URL"])
    click.echo("database is at the newest schema")


@main.group()
def user():
    """Portal users."""


@user.command("create")
@click.argument("username")
@click.option("--unix-user", help="Unix account to bind (default: the same name).")
@click.option("--admin", is_flag=True, help="Platform administrator.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def user_create(username, unix_user, admin, password_stdin):
    """Create a user; prints the generated password unless one is read from stdin."""
    from portal.services import ServiceError, users

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    with cli_common.make_app().app_context():
        try:
            created, generated = users.create_user(
                username, unix_user=unix_user, password=password, is_admin=admin
            )
        except ServiceError as exc:
            _fail(exc)
        from portal.services import audit

        audit.record("user.create", created.username, unix_user=created.unix_user,
                     is_admin=created.is_admin)
        click.echo(f"created {created.username} (unix: {created.unix_user})")
        if not password_stdin:
            click.echo(f"password: {generated}")


@user.command("deactivate")
@click.argument("username")
@click.option("--reason", default="", help="Why (kept in the audit log).")
def user_deactivate(username, reason):
    """Admins: end USERNAME's sessions and jobs, remove their Slurm associations in the
    portal's projects and refuse their logins; their history stays (issue #16)."""
    from portal.cli_projects import _acting
    from portal.services import lifecycle

    with _acting() as actor:
        done = lifecycle.deactivate_user(actor, username, reason=reason)
        click.echo(f"deactivated {username}: associations removed from "
                   f"{', '.join(done['accounts']) or 'no account'}; cancelled "
                   f"{len(done['cancelled'])} job(s)")


@user.command("reactivate")
@click.argument("username")
def user_reactivate(username):
    """Admins: let USERNAME log in again and restore their associations."""
    from portal.cli_projects import _acting
    from portal.services import lifecycle

    with _acting() as actor:
        lifecycle.reactivate_user(actor, username)
        click.echo(f"reactivated {username}")


@main.group()
def token():
    """Personal access tokens for the API."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True)
@click.option("--scope", type=click.Choice(["read", "write", "admin"]), default="read",
              show_default=True,
              help="read: GET only; write: also change USERNAME's own things; admin: also "
                   "USERNAME's administrator rights (admins only).")
def token_create(username, name, scope):
    """Create a token for USERNAME and print it (shown once)."""
    from portal.services import ServiceError, tokens, users

    with cli_common.make_app().app_context():
        try:
            _record, plaintext = tokens.create_token(users.get_user(username), name, scope)
        except ServiceError as exc:
            _fail(exc)
        click.echo(plaintext)


@main.command()
@click.option("--once", is_flag=True, help="Run one cycle and exit.")
@click.option("--interval", type=float, default=None, help="Seconds between cycles.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="DEBUG also logs every step's duration on its own line.")
def worker(once, interval, log_level):
    """Run the reconciling worker: cluster cache, job/session states, schedules, approvals,
    metrics, image builds, expiry, sacct import, wallet. Logs to stderr with timestamps."""
    from portal import worker as portal_worker
    from portal.services import audit

    portal_worker.setup_logging(log_level)
    app = cli_common.make_app()
    audit.command_origin("worker", cli_common.invoking_unix_user())  # not "cli": the worker
    if once:
        click.echo(json.dumps(portal_worker.run_cycle(app, interval)))
    else:
        portal_worker.run_forever(app, interval)


@main.group()
def cluster():
    """Cluster state, live from Slurm."""


@cluster.command("status")
@click.option("--json", "as_json", is_flag=True)
def cluster_status(as_json):
    """The worker's health (LATE when its heartbeat is old), then partitions, nodes and GPUs
    as Slurm reports them now."""
    from adapters import factory
    from adapters.errors import AdapterError
    from portal import db as portal_db
    from portal.services import heartbeat
    from portal.services.cluster import _plain

    app = cli_common.make_app()
    with app.app_context():
        worker_view = heartbeat.status()
        portal_db.session.remove()
    if not as_json:
        for line in heartbeat.describe(worker_view):
            click.echo(line)
    try:
        info = factory.make_scheduler(app.config).cluster_info()
    except AdapterError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps({**_plain(info), "worker": worker_view}, indent=2))
        return
    click.echo(f"Slurm {info.version}")
    for part in info.partitions:
        click.echo(f"partition {part.name}{' (default)' if part.default else ''}: {part.state}")
    for node in info.nodes:
        gpus = ", ".join(f"{m} {u}/{t} used" for m, (t, u) in node.gpus.items()) or "no GPUs"
        click.echo(
            f"node {node.name}: {node.state}, CPUs {node.cpus_alloc}/{node.cpus_total}, {gpus}"
        )
    for model, (total, free) in sorted(info.gpu_models.items()):
        click.echo(f"gpu {model}: {free} free of {total}")


from portal.cli_jobs import register as _register_jobs  # noqa: E402 - needs `main` above

_register_jobs(main)

from portal.cli_netsec import register as _register_netsec  # noqa: E402 - needs `main` above

_register_netsec(main)

from portal.cli_sessions import register as _register_sessions  # noqa: E402 - needs `main`

_register_sessions(main)

from portal.cli_projects import register as _register_projects  # noqa: E402 - needs `main`

_register_projects(main)

from portal.cli_admin import register as _register_admin  # noqa: E402 - needs `main`

_register_admin(main)

from portal.cli_wallet import register as _register_wallet  # noqa: E402 - needs `main`

_register_wallet(main)

from portal.cli_costs import register as _register_costs  # noqa: E402 - needs `main`

_register_costs(main)

from portal.cli_gateway import register as _register_gateway  # noqa: E402 - needs `main`

_register_gateway(main)

from portal.cli_idle import register as _register_idle  # noqa: E402 - needs `main`

_register_idle(main)


if __name__ == "__main__":  # pragma: no cover
    main()
