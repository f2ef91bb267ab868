"""Issue #18 item 3: the operation log says who acted and from where — a page or API call
its user and address, a `portal` command its acting user (or its Unix user) from "cli",
the worker "worker" — never a blank actor at 0.0.0.0."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from portal import cli, cli_common, db
from portal.models import AuditEvent
from portal.services import audit


def _last(app, action):
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == action)
                                  .order_by(AuditEvent.id.desc()))
        return event.actor_name, event.source_ip, event.details


def test_a_cli_command_is_audited_as_its_acting_user_from_cli(app, make_user, monkeypatch):
    make_user("ursula")
    monkeypatch.setattr(cli_common, "make_app", lambda: app)
    done = CliRunner().invoke(cli.main, ["whitelist", "create", "office", "10.0.0.0/8 tcp 22",
                                         "--user", "ursula"])
    assert done.exit_code == 0, done.output
    name, source, details = _last(app, "whitelist.create")
    assert (name, source) == ("ursula", "cli")
    assert details["run_by"] == cli_common.invoking_unix_user()


def test_an_admin_command_without_a_portal_user_is_the_unix_users(app, monkeypatch):
    monkeypatch.setattr(cli_common, "make_app", lambda: app)
    done = CliRunner().invoke(cli.main, ["user", "create", "vera", "--unix-user", "nobody"])
    assert done.exit_code == 0, done.output
    name, source, details = _last(app, "user.create")
    unix = cli_common.invoking_unix_user()
    assert (name, source, details["run_by"], details["unix_user"]) == (unix, "cli", unix, "nobody")
    with app.app_context():
        audit.record("test.after_cli", "x")
    # inside the command: its Unix user; after it: no longer the CLI (the origin was reset)
    assert _last(app, "test.after_cli")[:2] == ("", "worker")


def test_outside_requests_and_commands_it_is_the_worker(app):
    with app.app_context():
        audit.record("test.worker_did", "x")
    assert _last(app, "test.worker_did") == ("", "worker", {})


def test_a_page_request_is_its_user_from_its_address(app, make_user, auth):
    make_user("ursula")
    auth.login("ursula")
    name, source, details = _last(app, "auth.login")
    assert (name, source) == ("ursula", "127.0.0.1") and "run_by" not in details
