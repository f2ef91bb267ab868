"""Personal access tokens for the API: shown once, stored as SHA-256, revocable, scoped.

Scopes (issue #12 finding 11), each including the ones before it:
- `read`: GET and HEAD only — a token for dashboards and scripts that only look;
- `write`: also creates, changes and deletes the owner's own resources (sessions, jobs,
  keys…) with the owner's project roles, but never with platform-admin rights;
- `admin`: also the owner's platform-admin rights; only admins may create one, and it is
  worth nothing more than `write` once its owner is no longer an admin.
No token can create tokens: that takes the profile page (a logged-in browser session) or
`portal token create` on the portal host, so a stolen token cannot mint itself a successor.

Last use is coalesced: `last_used_at` is written at most once per
TOKEN_LAST_USED_INTERVAL seconds (default 300) per token, with a conditional UPDATE, so
a GET normally writes nothing and concurrent workers do not fight over the row.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from portal import db
from portal.models import ApiToken, User
from portal.services import Forbidden, NotFound, ServiceError, audit

TOKEN_PREFIX = "gpp_"
SCOPES = ("read", "write", "admin")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_LAST_USED_INTERVAL = 300.0


def _digest(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(token.encode()).hexdigest()


def scopes_for(user: User) -> tuple[str, ...]:
    """The scopes `user` may give a new token."""
    return SCOPES if user.admin_role else SCOPES[:2]


def create_token(user: User, name: str, scope: str | None = None) -> tuple[ApiToken, str]:
    """Returns (record, plaintext). The plaintext is never stored or shown again.

    `scope` None is the widest the user may hold (admin for admins, else write): the
    profile page and `portal token create` always pass the user's explicit choice.
    """
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise ServiceError(_l("A token name is 1–64 characters."), "invalid_name")
    scope = scope if scope is not None else scopes_for(user)[-1]
    if scope not in SCOPES:
        raise ServiceError(_l("A token's scope is read, write or admin."), "invalid_scope")
    if scope not in scopes_for(user):
        raise Forbidden(_l("Only platform administrators can create admin tokens."),
                        "admin_scope_forbidden")
    if any(t.name == name for t in list_tokens(user)):
        raise ServiceError(_l("You already have a token named %(name)s.", name=name), "duplicate")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        user_id=user.id, name=name, token_hash=_digest(plaintext), prefix=plaintext[:10],
        scope=scope,
    )
    db.session.add(record)
    db.session.flush()
    audit.record("token.create", f"token:{record.id}", actor=user, commit=False, name=name,
                 prefix=record.prefix, scope=scope)
    db.session.commit()
    return record, plaintext


def token_for(plaintext: str) -> ApiToken | None:
    """The live token record for `plaintext` (owner enabled), noting its use (coalesced)."""
    if not plaintext or not plaintext.startswith(TOKEN_PREFIX):
        return None
    record = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(plaintext)))
    if record is None or record.revoked_at is not None or not record.user.is_enabled:
        return None
    _note_use(record)
    return record


def user_for_token(plaintext: str) -> User | None:
    record = token_for(plaintext)
    return record.user if record is not None else None


def last_used_interval() -> float:
    if not has_app_context():
        return DEFAULT_LAST_USED_INTERVAL
    return float(current_app.config.get("TOKEN_LAST_USED_INTERVAL", DEFAULT_LAST_USED_INTERVAL))


def _note_use(record: ApiToken) -> None:
    """Move `last_used_at` forward only when it is older than the interval: one small
    conditional UPDATE per token per interval, none on the other requests."""
    now = db.utcnow()
    cutoff = now - timedelta(seconds=last_used_interval())
    if record.last_used_at is not None and record.last_used_at > cutoff:
        return
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.id == record.id,
               or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= cutoff))
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    set_committed_value(record, "last_used_at", now)  # known, not dirty: no second write


def allows_method(record: ApiToken, method: str) -> bool:
    """A read token only looks (GET, HEAD, OPTIONS); write and admin tokens may change."""
    return record.scope != "read" or method.upper() in READ_METHODS


def list_tokens(user: User) -> list[ApiToken]:
    stmt = (
        select(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at)
    )
    return list(db.session.scalars(stmt))


def revoke_token(user: User, token_id: int) -> None:
    record = db.session.get(ApiToken, token_id)
    if record is None or record.user_id != user.id or record.revoked_at is not None:
        raise NotFound(_l("No such token."))
    record.revoked_at = db.utcnow()
    audit.record("token.revoke", f"token:{record.id}", actor=user, commit=False,
                 name=record.name)
    db.session.commit()
