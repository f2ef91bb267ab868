"""Approvals (F11, ARCHITECTURE.md decision 10): Slurm keeps unapproved work from running.

A project's approval threshold T (GPUs per request) is enforced by Slurm, not by the
portal. Facts measured on the dev cluster (Slurm 22.05.8, AccountingStorageEnforce=
associations,limits,qos,safe) that decide the mechanism:

- `sbatch --hold` gives JobHeldUser, which the owner may release. An operator
  `scontrol hold` turns it into JobHeldAdmin; the owner's `scontrol release` then fails
  ("Access/permission denied"), so the portal submits an over-threshold request with
  --hold and the operator holds it at once.
- From the login node the user can sbatch around the portal, so the cap must be a Slurm
  limit. It is `MaxTRES=gres/gpu=T` (a per-job limit) on the project's *account
  association*, inherited by its user associations: an over-threshold job is accepted
  but pends with reason AssocMaxGRESPerJob and never starts. (This also makes the
  short window between `sbatch --hold` and the operator hold harmless.)
- An operator cannot exempt one job from a per-job GPU cap: Slurm marks only the CPU,
  memory, node and time limits an operator sets with `scontrol update` as admin-set
  (limit_set ADMIN_SET_LIMIT); updating Gres/TresPerNode as root, or submitting as root
  with `sbatch --uid`, still pends with QOSMaxGRESPerJob (measured). Moving the job to
  another QOS would escape the project QOS's quota (GrpTRES) and wallet (GrpTRESMins).
- So an approved job is moved by the operator (`scontrol update JobId=… Account=…`)
  into the child account `<account>_approved`, whose own MaxTRES is high and whose
  MaxSubmitJobs is 0. The job keeps its QOS, so the project QOS's quota and wallet still
  apply (measured: a second approved 2-GPU job pends QOSGrpGRES against GrpTRES=3), and
  the parent account's Grp limits apply through the hierarchy. The owner can neither
  submit into that account (AssocMaxSubmitJobLimit) nor move a job there with
  `scontrol update` ("Job violates accounting/QOS policy"); the operator's update is not
  subject to those limits. Then the operator releases the job.
- The cap lives on the association, so a project without its own QOS (adopted demo
  projects) needs none for approvals. A QOS that itself sets a per-job GPU limit would
  take precedence over the association's cap: the project QOS never sets one.

Accounting (sacct) shows an approved job under `<account>_approved`; `project_account()`
maps it back to the project.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from adapters.errors import AdapterError, JobNotFound
from portal import db
from portal.models import Order, Project
from portal.services import Forbidden, NotFound, ServiceError, audit
from portal.services import orders as ordersvc
from portal.services import project_slurm as ps

log = logging.getLogger(__name__)

APPROVED_SUFFIX = "_approved"
# The approved account's own per-job GPU cap: above any node; the QOS quota still applies.
NO_CAP = 100_000
MESSAGE_MAX = 1000


def approved_account(account: str) -> str:
    return f"{account}{APPROVED_SUFFIX}"


def project_account(account: str) -> str:
    """The project account of a Slurm account name (approved jobs run in a child)."""
    return account[: -len(APPROVED_SUFFIX)] if account.endswith(APPROVED_SUFFIX) else account


def needs_approval(project: Project | None, gpus: int | None) -> bool:
    threshold = getattr(project, "approval_threshold", None)
    return threshold is not None and (gpus or 0) > threshold


def gate(spec, project, gpus):
    """The sbatch spec, held (--hold) when the request needs approval."""
    return replace(spec, hold=True) if needs_approval(project, gpus) else spec


def cap_settings(project: Project) -> dict:
    return {"MaxTRES": {"gres/gpu": project.approval_threshold}}


def apply_cap(changes, project: Project, old_threshold: int | None) -> None:
    """Set (or clear) the per-job GPU cap on the project's account (a `both_sides` step)."""
    acc = changes.accounts
    changes.step(lambda: acc.modify_account(project.account, cap_settings(project)),
                 lambda: acc.modify_account(project.account,
                                            {"MaxTRES": {"gres/gpu": old_threshold}}),
                 f"approval cap {project.account}")


def record(kind: str, obj, backend, *, reason: object = None) -> Order:
    """Record the order of a just-submitted session/job; hold it for approval if needed.

    Commits. The operator hold failing is logged, not fatal: the account's cap still
    keeps the job from starting, and approval releases any hold.
    """
    pending = needs_approval(obj.project, obj.gpu_count)
    order = ordersvc.record(kind, obj, reason=ordersvc.clean_reason(reason),
                            approval="pending" if pending else "none")
    if pending and obj.slurm_job_id:
        try:
            backend.scheduler.operator_hold(obj.slurm_job_id)
            ordersvc.add_event(order, "held", slurm_job_id=obj.slurm_job_id)
        except (AdapterError, NotImplementedError, AttributeError) as exc:
            log.error("operator hold of job %s failed: %s", obj.slurm_job_id, exc)
            ordersvc.add_event(order, "hold_failed", message=str(getattr(exc, "message", exc)))
    db.session.commit()
    if pending:
        audit.record("approval.request", f"order:{order.id}", actor=obj.user,
                     gpus=obj.gpu_count, threshold=obj.project.approval_threshold,
                     slurm_job_id=obj.slurm_job_id)
    return order


def may_decide(user, order: Order) -> bool:
    return bool(user.is_admin) or order.project_id in ordersvc.managed_project_ids(user)


def pending(user) -> list[Order]:
    """Requests waiting for this manager (admins: all)."""
    stmt = select(Order).where(Order.approval == "pending")
    if not user.is_admin:
        stmt = stmt.where(Order.project_id.in_(ordersvc.managed_project_ids(user) or [-1]))
    return list(db.session.scalars(stmt.order_by(Order.id)))


def get_for_decision(user, order_id: int) -> Order:
    order = db.session.get(Order, order_id)
    if order is None or order.approval == "none" or not may_decide(user, order):
        raise NotFound(_l("No such approval request."))
    return order


def _check_open(actor, order: Order) -> None:
    if order.approval != "pending":
        who = order.decided_by.username if order.decided_by else ""
        raise ServiceError(_l("This request was already %(decision)s (by %(who)s); "
                              "nothing was changed.",
                              decision=_l("approved") if order.approval == "approved"
                              else _l("rejected") if order.approval == "rejected"
                              else _l("closed"), who=who or "-"),
                           "already_decided", 409)
    if order.user_id == actor.id and not actor.is_admin:
        raise Forbidden(_l("You cannot approve or reject your own request; another manager "
                           "or an administrator must."), "own_request")


def _check_job(order: Order, backend) -> None:
    """The job must still be waiting in Slurm; otherwise close the order and say why."""
    state = None
    if order.slurm_job_id:
        try:
            state = backend.scheduler.info(order.slurm_job_id).state
        except JobNotFound:
            state = None
        except AdapterError as exc:
            raise ServiceError(_l("Slurm did not answer, so nothing was changed: "
                                  "%(detail)s", detail=exc.message), "slurm_unavailable",
                               503) from exc
    if state is None or state.is_terminal:
        order.approval, order.state = "closed", "cancelled"
        ordersvc.add_event(order, "closed", state=str(state) if state else "gone")
        db.session.commit()
        raise ServiceError(_l("The job of this request no longer waits in Slurm (it was "
                              "cancelled or has ended), so there is nothing to decide."),
                           "job_gone", 409)


def approve(actor, order_id: int, backend) -> Order:
    """Let the held job run: move it into `<account>_approved` and release it (operator).

    Raises NotFound, Forbidden (own request, not a manager), ServiceError
    (already_decided, job_gone, slurm_*). Nothing changes in the portal unless Slurm did.
    """
    order = get_for_decision(actor, order_id)
    _check_open(actor, order)
    _check_job(order, backend)
    unix_user = order.user.unix_user
    target = approved_account(order.account)
    acc = ps.get_accounts()
    try:
        acc.add_account(target, {"MaxSubmitJobs": 0, "MaxTRES": {"gres/gpu": NO_CAP},
                                 "Description": f"approved requests of {order.account}"},
                        parent=order.account)
        acc.add_user(unix_user, target)
        backend.scheduler.operator_move(order.slurm_job_id, account=target)
        backend.scheduler.operator_release(order.slurm_job_id)
    except AdapterError as exc:
        raise ps.slurm_error(exc) from exc
    order.approval, order.state = "approved", "released"
    order.decided_by_id, order.decided_at = actor.id, db.utcnow()
    ordersvc.add_event(order, "approved", actor, account=target)
    audit.record("approval.approve", f"order:{order.id}", actor=actor, commit=False,
                 requester=order.user.username, slurm_job_id=order.slurm_job_id,
                 gpus=order.gpu_count, account=order.account)
    db.session.commit()
    return order


def clean_message(value: object) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        raise ServiceError(_l("A rejection needs a message for the requester."),
                           "message_required")
    if len(text) > MESSAGE_MAX:
        raise ServiceError(_l("The message is too long (at most %(n)d characters).",
                              n=MESSAGE_MAX), "invalid_message")
    return text


def reject(actor, order_id: int, message: object, backend) -> Order:
    """Cancel the held job (operator scancel) and keep the manager's message."""
    text = clean_message(message)
    order = get_for_decision(actor, order_id)
    _check_open(actor, order)
    if order.slurm_job_id:
        try:
            backend.scheduler.operator_cancel(order.slurm_job_id)
        except AdapterError as exc:
            raise ps.slurm_error(exc) from exc
    order.approval, order.state, order.decision_message = "rejected", "cancelled", text
    order.decided_by_id, order.decided_at = actor.id, db.utcnow()
    ordersvc.add_event(order, "rejected", actor, message=text)
    audit.record("approval.reject", f"order:{order.id}", actor=actor, commit=False,
                 requester=order.user.username, slurm_job_id=order.slurm_job_id,
                 message=text)
    db.session.commit()
    return order


def worker_step(scheduler) -> dict:
    """Once per worker cycle, after the job/session sync (cheap when nothing waits):

    - an order made while Slurm did not answer gets its Slurm job id once the worker has
      submitted it (and, waiting for approval, its operator hold);
    - a request whose job ended or was cancelled (e.g. from the shell) while it waited is
      closed, so managers no longer see it.
    """
    from portal.models import Job, Session
    from portal.services.jobs import ACTIVE
    from portal.services.sessions import OPEN

    synced = 0
    try:
        stmt = select(Order).where(
            (Order.slurm_job_id.is_(None) & (Order.state == "submitting"))
            | (Order.approval == "pending"))
        for order in db.session.scalars(stmt).all():
            model = Session if order.kind == "session" else Job
            row = db.session.get(model, order.ref_id)
            alive = row is not None and row.state in (OPEN if model is Session else ACTIVE)
            if row is not None and row.slurm_job_id and not order.slurm_job_id:
                order.slurm_job_id, order.state = row.slurm_job_id, "submitted"
                ordersvc.add_event(order, "submitted", slurm_job_id=row.slurm_job_id)
                if order.approval == "pending" and alive:
                    try:
                        scheduler.operator_hold(row.slurm_job_id)
                        ordersvc.add_event(order, "held", slurm_job_id=row.slurm_job_id)
                    except (AdapterError, NotImplementedError, AttributeError) as exc:
                        log.warning("operator hold of job %s failed: %s", row.slurm_job_id,
                                    getattr(exc, "message", exc))
                synced += 1
            if order.approval == "pending" and not alive:
                order.approval = "closed"
                order.state = getattr(row, "state", None) or "gone"
                ordersvc.add_event(order, "closed", state=order.state)
                synced += 1
            elif order.slurm_job_id is None and not alive:
                order.state = getattr(row, "state", None) or "gone"
        db.session.commit()
    except Exception as exc:  # noqa: BLE001 - one failing step must not stop the cycle
        db.session.rollback()
        log.exception("orders: sync failed")
        return {"orders_error": str(exc)}
    return {"orders_synced": synced} if synced else {}
