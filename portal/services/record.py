"""The read-only record of a session or job (issue #16 item 4): what stays after it ended.

An ended (or deleted) session or job keeps its page: its order (with a link), what it cost
(the wallet's charges for its Slurm job, at the order's unit price) and its history (the
order's events and the audit trail of the row). Nothing here changes anything.

Who may read it: the owner; a manager of its project; a platform admin — the same people
who may see its order (portal.services.orders.visible_query).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal import db
from portal.models import AuditEvent, Order, WalletTransaction
from portal.services import orderdisplay, orders


@dataclass
class HistoryLine:
    at: datetime
    text: str
    actor: str = ""


@dataclass
class Record:
    order: Order | None
    charged: Decimal | None = None  # the wallet's charges (positive), None: not charged yet
    charges: int = 0
    elapsed_s: int = 0
    history: list[HistoryLine] = field(default_factory=list)


AUDIT_WORDS = {
    "session.create": _l("Created"), "session.accept": _l("Accepted by the owner"),
    "session.delete": _l("Deleted"), "session.expire": _l("Ended at its end time"),
    "session.terminal": _l("Web terminal opened"), "job.create": _l("Created"),
    "job.delete": _l("Deleted"),
}


def _audit_text(action: str) -> str:
    return str(AUDIT_WORDS.get(action, action))


def record_of(kind: str, row) -> Record:
    """The order, cost and history of a session (`kind` "session") or job ("job")."""
    order = orders.order_for((kind, row.id))
    out = Record(order=order)
    job_ids = {j for j in (row.slurm_job_id, getattr(order, "slurm_job_id", None)) if j}
    if job_ids:
        total, count, elapsed = db.session.execute(
            select(func.sum(WalletTransaction.amount), func.count(WalletTransaction.id),
                   func.sum(WalletTransaction.elapsed_s))
            .where(WalletTransaction.job_id.in_(job_ids))).one()
        if count:
            out.charged, out.charges, out.elapsed_s = -Decimal(total), count, int(elapsed or 0)
    lines = []
    if order is not None:
        lines += [HistoryLine(e.at, orderdisplay.event_text(e.kind), e.actor)
                  for e in order.events]
    target = f"{'session' if kind == 'session' else 'job'}:{row.id}"
    for event in db.session.scalars(select(AuditEvent).where(AuditEvent.target == target)):
        lines.append(HistoryLine(event.at, _audit_text(event.action), event.actor_name))
    for at, words in ((getattr(row, "started_at", None), _l("Started")),
                      (getattr(row, "ended_at", None), _l("Ended"))):
        if at is not None:
            lines.append(HistoryLine(at, str(words)))
    out.history = sorted(lines, key=lambda line: line.at)
    return out


def _may_read(user, row) -> bool:
    from portal.services.core.membership import is_manager

    return (row.user_id == user.id or bool(getattr(user, "is_admin", False))
            or is_manager(user, row.project_id))


def readable_session(user, session_id: int):
    """A session whose page `user` may read, ended and deleted ones too (NotFound else)."""
    from portal.models import Session
    from portal.services import NotFound

    row = db.session.get(Session, session_id)
    if row is None or not _may_read(user, row):
        raise NotFound(_l("No such session."))
    return row


def readable_job(user, job_id: int):
    """A job whose page `user` may read: the owner, its project's managers, admins."""
    from portal.models import Job
    from portal.services import NotFound

    row = db.session.get(Job, job_id)
    if row is None or not _may_read(user, row):
        raise NotFound(_l("No such job."))
    return row
