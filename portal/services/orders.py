"""Orders (F11): every session, job and scheduled run created is an order.

An order keeps the spec, the hourly unit price in force when it was made
(portal.services.pricing.hourly_price: from Slurm's billing weights, so it is what the
create form showed and what the wallet charges per hour), the Slurm job it became, its
approval record and its history. The list is filtered by a time range that is checked
first: a reversed range or one longer than MAX_RANGE_DAYS is refused with a clear message
before any query.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from portal import db
from portal.models import Membership, Order, OrderEvent, ProjectRole
from portal.services import NotFound, ServiceError
from portal.services.dates import parse_day
from portal.services.pricing import hourly_price

MAX_RANGE_DAYS = 366
REASON_MAX = 1000
LIST_LIMIT = 500


def add_event(order: Order, kind: str, actor=None, **details) -> OrderEvent:
    """Append a line to the order's history (committed by the caller)."""
    event = OrderEvent(order=order, kind=kind, at=db.utcnow(),
                       actor=getattr(actor, "username", "") or "",
                       details={k: v for k, v in details.items() if v is not None})
    db.session.add(event)
    return event


def clean_reason(value: object) -> str:
    text = "" if value is None else str(value).strip()
    if len(text) > REASON_MAX:
        raise ServiceError(_l("The reason is too long (at most %(n)d characters).",
                              n=REASON_MAX), "invalid_reason")
    return text


def record(kind: str, obj, *, reason: str = "", approval: str = "none") -> Order:
    """The order for a just-created session or job (`kind`: session, job, scheduled).

    Exactly one per session or job (issue #16): when the row already has an order (a
    retried call, the worker's backfill racing a create) that order is returned.
    """
    existing = order_for((kind, obj.id))
    if existing is not None:
        return existing
    spec = {k: getattr(obj, k, None) for k in (
        "gpu_model", "gpu_count", "cpus", "mem_gb", "shm_gb", "image", "partition",
        "time_limit_min", "node_count")}
    spec = {k: v for k, v in spec.items() if v is not None}
    # The price Slurm's billing weights give this request: what the create form showed
    # and what the wallet charges per hour (portal.services.pricing).
    price = hourly_price(obj.gpu_model, obj.gpu_count or 0, obj.cpus or 0,
                         getattr(obj, "mem_gb", 0) or 0, partition=getattr(obj, "partition", None),
                         nodes=getattr(obj, "node_count", 1) or 1)
    order = Order(
        created_at=db.utcnow(), kind=kind, ref_id=obj.id, user_id=obj.user_id,
        project_id=obj.project_id, account=obj.account, name=(obj.name or "")[:128],
        spec=spec, gpu_model=obj.gpu_model, gpu_count=obj.gpu_count or 0,
        cpus=obj.cpus or 0, unit_price=price, slurm_job_id=obj.slurm_job_id,
        state="submitted" if obj.slurm_job_id else "submitting", reason=reason,
        approval=approval,
    )
    db.session.add(order)
    add_event(order, "created", obj.user, slurm_job_id=obj.slurm_job_id,
              unit_price=str(price), approval=approval)
    return order


def parse_range(start: object, end: object, *, today: date | None = None
                ) -> tuple[datetime, datetime]:
    """(from, to) as naive UTC datetimes, `to` exclusive; both default to the last 30 days.

    Raises ServiceError for a bad date, a reversed range or one over MAX_RANGE_DAYS.
    """
    today = today or db.utcnow().date()
    end_day = parse_day(end, _l("To")) or today
    start_day = parse_day(start, _l("From"))
    if not date(1970, 1, 1) <= end_day <= date(9000, 1, 1) or (
            start_day and not date(1970, 1, 1) <= start_day <= date(9000, 1, 1)):
        raise ServiceError(_l("Dates must be between 1970 and 9000."), "invalid_date")
    start_day = start_day or end_day - timedelta(days=30)
    if start_day > end_day:
        raise ServiceError(_l("The range is reversed: %(start)s is after %(end)s.",
                              start=start_day.isoformat(), end=end_day.isoformat()),
                           "reversed_range")
    if (end_day - start_day).days > MAX_RANGE_DAYS:
        raise ServiceError(_l("The range is too long: at most %(days)d days.",
                              days=MAX_RANGE_DAYS), "range_too_long")
    return (datetime.combine(start_day, time.min),
            datetime.combine(end_day + timedelta(days=1), time.min))


def managed_project_ids(user) -> list[int]:
    return list(db.session.scalars(select(Membership.project_id).where(
        Membership.user_id == user.id, Membership.role == ProjectRole.MANAGER)))


def visible_query(user):
    """Orders the user may see: their own; a manager's projects'; everything for admins."""
    stmt = select(Order)
    if not user.is_admin:
        managed = managed_project_ids(user)
        stmt = stmt.where(or_(Order.user_id == user.id, Order.project_id.in_(managed))
                          if managed else Order.user_id == user.id)
    return stmt


def list_orders(user, data: Mapping[str, object] | None = None) -> list[Order]:
    data = data or {}
    start, end = parse_range(data.get("from"), data.get("to"))
    stmt = visible_query(user).where(Order.created_at >= start, Order.created_at < end)
    if data.get("kind"):
        stmt = stmt.where(Order.kind == str(data["kind"]))
    if data.get("approval"):
        stmt = stmt.where(Order.approval == str(data["approval"]))
    return list(db.session.scalars(stmt.order_by(Order.id.desc()).limit(LIST_LIMIT)))


def get_order(user, order_id: int) -> Order:
    order = db.session.scalar(visible_query(user).where(Order.id == order_id))
    if order is None:
        raise NotFound(_l("No such order."))
    return order


def order_for(kind_ref: tuple[str, int]) -> Order | None:
    kind, ref = kind_ref
    kinds = ("job", "scheduled") if kind in ("job", "scheduled") else (kind,)
    return db.session.scalar(select(Order).where(Order.kind.in_(kinds), Order.ref_id == ref)
                             .order_by(Order.id.desc()))


def orders_by_slurm_id(job_ids) -> dict[str, int]:
    """Slurm job id → order id, for linking wallet charges (issue #16).

    First the order's own Slurm id; then, for ids no order names (a run Slurm got again
    under a new id, an order recorded before its job id was known), the session or job
    row that carries the id, and that row's order.
    """
    from portal.models import Job, Session

    wanted = {str(j) for j in job_ids if j}
    if not wanted:
        return {}
    out: dict[str, int] = {}
    for jid, oid in db.session.execute(select(Order.slurm_job_id, Order.id)
                                       .where(Order.slurm_job_id.in_(wanted))
                                       .order_by(Order.id)):
        out[str(jid)] = oid
    rest = wanted - out.keys()
    for model, kinds in ((Session, ("session",)), (Job, ("job", "scheduled"))):
        if not rest:
            break
        stmt = (select(model.slurm_job_id, Order.id)
                .join(Order, (Order.ref_id == model.id) & Order.kind.in_(kinds))
                .where(model.slurm_job_id.in_(rest)))
        for jid, oid in db.session.execute(stmt):
            out[str(jid)] = oid
        rest = wanted - out.keys()
    return out


def link_charges(order: Order) -> int:
    """Point the wallet's charges for the order's Slurm job, if any came first, at it."""
    from sqlalchemy import update

    from portal.models import WalletTransaction

    if not order.slurm_job_id or order.id is None:
        return 0
    return db.session.execute(update(WalletTransaction).where(
        WalletTransaction.job_id == order.slurm_job_id,
        WalletTransaction.order_id.is_(None)).values(order_id=order.id)).rowcount or 0


def live_states(orders: list[Order]) -> dict[int, str]:
    """Order id → the current state of its session or job row (two queries in all)."""
    from portal.models import Job, Session

    out: dict[int, str] = {}
    for model, kinds in ((Session, ("session",)), (Job, ("job", "scheduled"))):
        ids = {o.ref_id for o in orders if o.kind in kinds}
        if not ids:
            continue
        states = dict(db.session.execute(select(model.id, model.state)
                                         .where(model.id.in_(ids))).all())
        for o in orders:
            if o.kind in kinds:
                out[o.id] = states.get(o.ref_id, "deleted")
    return out


def as_dict(order: Order, *, events: bool = False, live: str | None = None) -> dict:
    out = {
        "id": order.id, "created_at": order.created_at.isoformat() + "Z", "kind": order.kind,
        "ref_id": order.ref_id, "user": order.user.username if order.user else None,
        "project_id": order.project_id, "account": order.account, "name": order.name,
        "spec": order.spec, "unit_price": str(order.unit_price),
        "slurm_job_id": order.slurm_job_id, "state": order.state,
        "job_state": live if live is not None else live_states([order]).get(order.id),
        "reason": order.reason,
        "approval": order.approval,
        "decided_by": order.decided_by.username if order.decided_by else None,
        "decided_at": order.decided_at.isoformat() + "Z" if order.decided_at else None,
        "decision_message": order.decision_message or None,
    }
    if events:
        out["history"] = [{"at": e.at.isoformat() + "Z", "kind": e.kind, "actor": e.actor,
                           "details": e.details} for e in order.events]
    return out
