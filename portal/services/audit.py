"""Record who did what, from where (F11 operation log). Every feature calls `record`."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable

from portal import db
from portal.models.audit import AuditEvent

# Who acts outside a web request (issue #18 item 3): the `portal` command says ("cli", its
# Unix user) for the length of one command; code outside both a request and a command is
# the worker. Before, CLI rows came from a fake request and read IP "0.0.0.0", no actor.
_command_origin: contextvars.ContextVar = contextvars.ContextVar("audit_origin", default=None)
# The portal user a CLI command acts as (`acting_user`), for this command only.
_acting_user: contextvars.ContextVar = contextvars.ContextVar("audit_acting_user", default=None)
# Who acts in a web request, as the web layer says: a function returning (user or None,
# client address) inside a request and None outside one (portal.net.request_actor, set by
# the app factory). Services never read the request themselves (issue #18 item 3).
_web_actor: Callable[[], tuple | None] | None = None


def use_web_actor(provider: Callable[[], tuple | None] | None) -> None:
    """Set where `record` learns a web request's user and client address."""
    global _web_actor
    _web_actor = provider


def command_origin(origin: str, unix_user: str):
    """Mark what follows as done by a command of `unix_user`; returns the reset token."""
    return _command_origin.set((origin, unix_user))


def end_command_origin(token) -> None:
    _command_origin.reset(token)


@contextlib.contextmanager
def acting_as(user):
    """Events recorded inside are the portal user `user`'s (the CLI's --user or bound user)."""
    token = _acting_user.set(user)
    try:
        yield
    finally:
        _acting_user.reset(token)


def _request_actor():
    """(actor, actor name, source, extra details) of whoever acts now."""
    if (command := _command_origin.get()) is not None:
        origin, unix_user = command
        user = _acting_user.get()
        return user, (user.username if user else unix_user), origin, {"run_by": unix_user}
    web = _web_actor() if _web_actor is not None else None
    if web is None:
        return None, "", "worker", {}
    user, address = web
    return user, (user.username if user else ""), address, {}


def record(action: str, target: str = "", *, actor=None, commit: bool = True, **details):
    """Append one event. `actor` defaults to the request's user (page or API), or the CLI's
    acting user (else its Unix user by name) with the source "cli", or the worker.

    Details must be JSON-safe and must never carry secrets (passwords, tokens, private keys).
    """
    request_actor, name, source, extra = _request_actor()
    actor = actor or request_actor
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else name,
        source_ip=source,
        action=action,
        target=str(target)[:255],
        details={**extra, **details},
    )
    db.session.add(event)
    if commit:
        db.session.commit()
    return event
