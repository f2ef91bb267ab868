"""Taking back a session request that never reached Slurm (issue #12): the owner declines
it, or the manager who asked (or the owner, by deleting it) withdraws it.

One guarded UPDATE (only while the row is still "awaiting") so an accept racing a
withdraw cannot both win. Deleting a session (portal/services/sessions.py) and answering a
request (portal/services/sessionaccept.py, which launches through sessions) both end
requests this way, so it sits below both.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from portal import db
from portal.models import Session
from portal.services import ServiceError, audit
from portal.services.core.states import AWAITING, DECLINED, WITHDRAWN


def withdraw(user, session: Session) -> Session:
    """The manager (or the owner, by deleting it) takes the request back."""
    if session.user_id == user.id:
        return close(session, user, DECLINED, "session.decline")
    return close(session, user, WITHDRAWN, "session.withdraw")


def claim_awaiting(session: Session, refusal, **values) -> None:
    """Move an awaiting session on in one conditional UPDATE (committed), so that one answer
    only wins: a second click, or a decline racing an accept, finds the state changed and
    gets `refusal` (409 not_awaiting)."""
    claimed = db.session.execute(
        update(Session).where(Session.id == session.id, Session.state == AWAITING)
        .values(**values)
    ).rowcount
    db.session.commit()
    if not claimed:
        raise ServiceError(refusal, "not_awaiting", 409)
    db.session.refresh(session)


def close(session: Session, user, state: str, action: str) -> Session:
    claim_awaiting(session, _l("This session is not waiting for an answer any more."),
                   state=state, hidden=True, ended_at=db.utcnow())
    audit.record(action, f"session:{session.id}", actor=user, name=session.name,
                 image=session.image, owner=session.user.username,
                 requested_by=session.created_by.username if session.created_by else None)
    return session
