"""Sessions asked for on someone's behalf (issue #12 finding 3): the member decides.

A manager's batch create (F3) starts sessions *as the members*. An image is code: a
custom image (F4) is a tree its committer owns and can change, so starting one as a
member would let the committer run anything as that member, in their home, with no
action from them. So a session created for someone else starts at once only from an
image every user already trusts: a public image (registered by a platform admin, or
configured by the operator). With any other image the session is only *recorded*, in
state "awaiting": nothing is written to the member's home and nothing reaches Slurm.
The member sees who asked, which image, built by whom from which session, and accepts
(the portal then writes the files and submits as the member, the normal `launch`) or
declines (the row is hidden as "declined"). The manager may withdraw it ("withdrawn").

Why not submit it held (`scontrol hold`, JobHeldAdmin) and release on accept: the job
script and the session directory would already sit in the member's home, the job would
already count against limits and show in `squeue`, and a mistake in the hold (or an
operator's release) would run it. Keeping the request in the portal until the member
says yes leaves nothing to race.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import db
from portal.models import CustomImage, Membership, Session
from portal.services import NotFound, ServiceError, audit
from portal.services.core.states import AWAITING, DECLINED, WITHDRAWN  # noqa: F401
from portal.services.images import PUBLIC
from portal.services.sessionwithdraw import (
    claim_awaiting,
    withdraw,  # noqa: F401 - sessionaccept.withdraw
)
from portal.services.sessionwithdraw import close as _close


def needs_acceptance(owner, created_by, image_type: str) -> bool:
    """Whether a session for `owner` asked by `created_by` must wait for `owner`'s yes."""
    return owner.id != created_by.id and image_type != PUBLIC


def awaiting_for(user) -> list[Session]:
    """Requests waiting for `user`'s answer (newest first)."""
    stmt = select(Session).where(Session.user_id == user.id, Session.state == AWAITING,
                                 Session.hidden.is_(False)).order_by(Session.id.desc())
    return list(db.session.scalars(stmt))


def offered_image(session: Session) -> CustomImage | None:
    """The custom image the request names: same project, same key, same files."""
    if session.image_type == PUBLIC:
        return None
    stmt = select(CustomImage).where(
        CustomImage.project_id == session.project_id, CustomImage.path == session.image_path,
        CustomImage.path != "")
    image = db.session.scalars(stmt).first()
    if image is None or image.key != session.image:
        return None
    return image


def describe(session: Session) -> dict:
    """What the member is asked to accept (for the card, the detail page and the API)."""
    image = offered_image(session)
    return {
        "requested_by": session.created_by.username if session.created_by else None,
        "image": session.image,
        "image_type": session.image_type,
        "image_name": (image.display_name or image.key) if image else session.image,
        "image_description": image.description if image else "",
        "built_by": image.created_by.username if image and image.created_by else None,
        "from_session": image.session_name if image else None,
        "image_available": image is not None and image.state == "ready",
        "requested_at": session.created_at.isoformat() + "Z" if session.created_at else None,
    }


def _own_awaiting(user, session_id: int) -> Session:
    session = db.session.get(Session, session_id)
    if session is None or session.hidden or session.user_id != user.id:
        raise NotFound(_l("No such session."))
    if session.state != AWAITING:
        raise ServiceError(_l("This session is not waiting for your answer."),
                           "not_awaiting", 409)
    return session


def _check_still_valid(session: Session) -> None:
    """What may have changed since the request: membership, the image, the end time."""
    member = db.session.scalar(select(Membership.id).where(
        Membership.user_id == session.user_id, Membership.project_id == session.project_id))
    if member is None:
        raise ServiceError(_l("You are no longer a member of this session's project."),
                           "not_member", 409)
    if session.image_type != PUBLIC:
        image = offered_image(session)
        if image is None or image.state != "ready":
            raise ServiceError(
                _l("The image %(image)s is no longer available (deleted or replaced since "
                   "it was offered); decline, and ask for a new session if you want one.",
                   image=session.image), "image_gone", 409)
    now = datetime.now(UTC).replace(tzinfo=None)
    if session.end_at is not None and session.end_at <= now:
        raise ServiceError(_l("The session's end time has passed; decline it."),
                           "request_expired", 409)


def accept(user, session_id: int, backend=None) -> Session:
    """The owner says yes: the session is written and submitted as the owner now.

    Raises NotFound (not the user's), ServiceError not_awaiting (answered already),
    not_member, image_gone, request_expired, or the submission's own refusals.
    """
    from portal.services import sessions as svc

    session = _own_awaiting(user, session_id)
    _check_still_valid(session)
    details = describe(session)
    claim_awaiting(session, _l("This session is not waiting for your answer."),
                   state="submitting", created_at=db.utcnow())
    audit.record("session.accept", f"session:{session.id}", actor=user, name=session.name,
                 image=session.image, requested_by=details["requested_by"],
                 built_by=details["built_by"], from_session=details["from_session"])
    backend = backend or svc.get_backend()
    svc.launch(session, backend)
    from portal.services import approvals

    approvals.record("session", session, backend)  # now it is an order (issue #16)
    return session


def decline(user, session_id: int) -> Session:
    """The owner says no: nothing was written or submitted; the request leaves the list."""
    session = _own_awaiting(user, session_id)
    return _close(session, user, DECLINED, "session.decline")
