"""Which open sessions use an SSH key or a whitelist (issue 6): keys and whitelists refuse
to be deleted or changed under a session that uses them, and sessions are made from them,
so the query lives here rather than in either."""

from __future__ import annotations

from sqlalchemy import select

from portal import db
from portal.models import Session
from portal.models.sessions import session_whitelists
from portal.services.core.states import SESSION_OPEN


def sessions_using_key(key) -> list[Session]:
    """Open sessions whose authorized_keys hold `key` (for keys.key_usage, issue 6)."""
    return [s for s in db.session.scalars(select(Session).where(
        Session.user_id == key.user_id, Session.state.in_(SESSION_OPEN)))
        if key.id in s.ssh_key_ids]


def sessions_using_whitelist(whitelist) -> list[Session]:
    """Open sessions restricted by `whitelist` (for whitelists.whitelist_usage, issue 6)."""
    return [s for s in whitelist_sessions(whitelist) if s.state in SESSION_OPEN]


def whitelist_sessions(whitelist) -> list[Session]:
    stmt = select(Session).join(session_whitelists).where(
        session_whitelists.c.whitelist_id == whitelist.id)
    return list(db.session.scalars(stmt))
