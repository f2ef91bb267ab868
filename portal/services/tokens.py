"""Personal access tokens for the API: shown once, stored as SHA-256, revocable."""

from __future__ import annotations

import hashlib
import secrets

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import db
from portal.models import ApiToken, User
from portal.services import NotFound, ServiceError, audit

TOKEN_PREFIX = "gpp_"


def _digest(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Returns (record, plaintext). The plaintext is never stored or shown again."""
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise ServiceError(_l("A token name is 1–64 characters."), "invalid_name")
    if any(t.name == name for t in list_tokens(user)):
        raise ServiceError(_l("You already have a token named %(name)s.", name=name), "duplicate")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        user_id=user.id, name=name, token_hash=_digest(plaintext), prefix=plaintext[:10]
    )
    db.session.add(record)
    db.session.flush()
    audit.record("token.create", f"token:{record.id}", actor=user, commit=False, name=name,
                 prefix=record.prefix)
    db.session.commit()
    return record, plaintext


def user_for_token(plaintext: str) -> User | None:
    if not plaintext or not plaintext.startswith(TOKEN_PREFIX):
        return None
    record = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(plaintext)))
    if record is None or record.revoked_at is not None or not record.user.is_enabled:
        return None
    record.last_used_at = db.utcnow()
    db.session.commit()
    return record.user


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
