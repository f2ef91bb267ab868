"""Record who did what, from where (F11 operation log). Every feature calls `record`."""

from __future__ import annotations

from flask import has_request_context
from flask_login import current_user

from portal import db
from portal.models.audit import AuditEvent


def _request_actor():
    if not has_request_context():
        return None, "", "cli"
    from flask import g

    from portal.net import client_address

    user = getattr(g, "api_user", None) or (
        current_user if current_user and current_user.is_authenticated else None
    )
    return user, (user.username if user else ""), client_address()


def record(action: str, target: str = "", *, actor=None, commit: bool = True, **details):
    """Append one event. `actor` defaults to the request's user (page or API) or the CLI.

    Details must be JSON-safe and must never carry secrets (passwords, tokens, private keys).
    """
    request_actor, name, source_ip = _request_actor()
    actor = actor or request_actor
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else name,
        source_ip=source_ip,
        action=action,
        target=str(target)[:255],
        details=details,
    )
    db.session.add(event)
    if commit:
        db.session.commit()
    return event
