"""What every `portal …` command module shares: the app, error exits, the acting user, output.

Kept apart from portal/cli.py so the feature modules (cli_jobs, cli_netsec, cli_sessions,
cli_projects, cli_admin) can import it without importing the `main` group that imports them.
"""

from __future__ import annotations

import json
import os
import pwd
import sys
from contextlib import contextmanager

import click

USER_OPTION = click.option("--user", "username", help="Portal user (root only; default: you).")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def fail(exc) -> None:
    """Print `error: …` (a ServiceError's message, or the text) to stderr and exit 1."""
    click.echo(f"error: {getattr(exc, 'message', exc)}", err=True)
    sys.exit(1)


def make_app():
    """The Flask app; exits 1 with the reason (e.g. no secret key yet) instead of a traceback."""
    from portal import create_app

    try:
        return create_app()
    except RuntimeError as exc:
        fail(exc)


def invoking_unix_user() -> str:
    """The Unix account running this command."""
    return pwd.getpwuid(os.geteuid()).pw_name


def bound_user(unix_user: str):
    """The portal user bound to `unix_user`; exits 1 when there is none."""
    from sqlalchemy import select

    from portal import db
    from portal.models import User

    user = db.session.scalar(select(User).where(User.unix_user == unix_user))
    if user is None:
        fail(f"no portal user is bound to the Unix account {unix_user}")
    return user


@contextmanager
def service_context(*, request: bool = True):
    """An app context (a `/cli` test request context when `request`) in which a ServiceError
    exits 1 with its message; the DB session is removed at the end."""
    from portal import db
    from portal.services import ServiceError

    app = make_app()
    with app.test_request_context("/cli") if request else app.app_context():
        try:
            yield
        except ServiceError as exc:
            fail(exc)
        finally:
            db.session.remove()


@contextmanager
def acting_user(username: str | None, *, request: bool = True):
    """`service_context` and the acting portal user: the one bound to the invoking Unix
    account, or `username` (only root may name someone else); exits 1 on any refusal. What
    it does is audited as that user, from "cli", with the invoking Unix user in the details."""
    from portal.services import audit, users

    with service_context(request=request):
        invoking = invoking_unix_user()
        if username is None:
            if os.geteuid() == 0:
                fail("running as root: say which portal user with --user NAME")
            user = bound_user(invoking)
        else:
            user = users.get_user(username)
            if os.geteuid() != 0 and user.unix_user != invoking:
                fail("you may only act as your own portal user")
        with audit.acting_as(user):
            yield user


def echo_items(data, as_json: bool, line, *, default=None) -> None:
    """`data` (a dict or a list of them) as indented JSON, or one `line(item)` per item."""
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=default))
        return
    for item in data if isinstance(data, list) else [data]:
        click.echo(line(item))


IDEMPOTENCY_OPTION = click.option(
    "--idempotency-key", "idempotency_key", default=None, metavar="KEY",
    help="Do this at most once: the same command with the same KEY prints the first "
         "result instead of creating again (default: a new key for each invocation).")


def create_once(user, key: str | None, what: str, args: dict, create, kind: str):
    """Run `create()` (which returns the new row) at most once for (user, `key`).

    The CLI's side of the API's Idempotency-Key (portal/services/idempotency.py, issue
    #13): every invocation claims a key (a fresh uuid unless --idempotency-key gives one),
    so a script that repeats the command with its key after an unclear failure gets the
    first result back. A lost database connection (the CLI's "connection error") is
    retried once with the same key: if the first try recorded the row, the retry returns
    it instead of creating a second one. Returns the row (new or the first one).
    """
    import time
    import uuid

    from sqlalchemy.exc import DBAPIError

    from portal import db
    from portal.services import ServiceError
    from portal.services import idempotency as idem

    key = key or uuid.uuid4().hex
    body = json.dumps(args, sort_keys=True, default=str).encode()
    for attempt in (1, 2):
        try:
            outcome = idem.begin(user, key, "CLI", what, body, takeover=attempt == 2)
            if isinstance(outcome, idem.Replay):
                return _replayed(outcome)
            try:
                row = create()
            except ServiceError as exc:
                idem.finish(outcome.id, exc.status, json.dumps(
                    {"error": {"code": exc.code, "message": str(exc.message)}}))
                raise
            idem.finish(outcome.id, 201, json.dumps({"resource": f"{kind}:{row.id}"}))
            return row
        except DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated and "locked" not in str(exc):
                raise
            click.echo("warning: the database connection failed; trying once more with the "
                       "same idempotency key", err=True)
            db.session.rollback()
            time.sleep(1.0)
    raise AssertionError("unreachable")


def _replayed(replay):
    """The row a replayed key made; a replayed refusal exits 1 with its message."""
    from portal.services import idempotency as idem

    stored = json.loads(replay.body) if replay.body else {}
    if "error" in stored:
        fail(stored["error"]["message"])
    row = idem.load(stored.get("resource") or replay.resource)
    if row is None:
        fail("this idempotency key was used for something that no longer exists")
    click.echo("(idempotency key seen before: showing the first result)", err=True)
    return row
