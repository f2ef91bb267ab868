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

What runs is what was approved (issue #12): the owner could `scontrol update` the held job
(TresPerNode, NumCPUs, Account, Partition, QOS, Comment) before approval or between release
and start. The job_submit/lua policy (etc/slurm/job_submit.lua) refuses such updates to
portal-tagged jobs; in any case the operator reads the job back before releasing it, and
right after, and cancels it instead on any difference from the recorded request
(portal/services/approval_check.py, audit `approval.job_changed`). The worker repeats the
check for approved jobs until they have started.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from adapters.errors import AdapterError, JobNotFound
from adapters.scheduler import JobState
from portal import db
from portal.models import Order, Project
from portal.services import Forbidden, NotFound, ServiceError, audit
from portal.services import approval_check as check
from portal.services import orders as ordersvc
from portal.services import project_slurm as ps
from portal.services.core.states import JOB_ACTIVE, SESSION_OPEN, job_tag, session_tag

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

    Commits the order before the operator hold runs and the hold's event after it: no
    write transaction stays open while scontrol runs (issue #13). The hold failing is
    logged, not fatal: the account's cap still keeps the job from starting, and approval
    releases any hold.
    """
    gpus = (obj.gpu_count or 0) * (getattr(obj, "node_count", 1) or 1)  # all nodes' GPUs
    pending = needs_approval(obj.project, gpus)
    order = ordersvc.record(kind, obj, reason=ordersvc.clean_reason(reason),
                            approval="pending" if pending else "none")
    db.session.commit()
    if pending and obj.slurm_job_id:
        _operator_hold(order, backend.scheduler, obj.slurm_job_id, failed=log.error)
    if pending:
        audit.record("approval.request", f"order:{order.id}", actor=obj.user,
                     gpus=gpus, threshold=obj.project.approval_threshold,
                     slurm_job_id=obj.slurm_job_id)
    return order


def _operator_hold(order: Order, scheduler, job_id: str, *, failed=log.warning) -> None:
    """Operator-hold the order's job, then record how that went and commit: the Slurm
    commands run with no write transaction open (issue #13)."""
    try:
        scheduler.operator_hold(job_id)
        ordersvc.add_event(order, "held", slurm_job_id=job_id,
                           terms=_snapshot(scheduler, job_id))
    except (AdapterError, NotImplementedError, AttributeError) as exc:
        failed("operator hold of job %s failed: %s", job_id, getattr(exc, "message", exc))
        ordersvc.add_event(order, "hold_failed", message=str(getattr(exc, "message", exc)))
    db.session.commit()


def _snapshot(scheduler, job_id: str) -> dict | None:
    """The held job's terms as Slurm shows them (time limit and QOS the portal did not
    choose); None when Slurm cannot be read now (approval then checks the rest)."""
    try:
        return check.snapshot(scheduler.info(job_id))
    except (AdapterError, NotImplementedError, AttributeError) as exc:
        log.warning("could not read held job %s: %s", job_id, getattr(exc, "message", exc))
        return None


def tag_of(order: Order) -> str | None:
    """The portal's tag (the job's --comment) of the order's session or job."""
    from portal.models import Job, Session

    if order.kind == "session":
        row = db.session.get(Session, order.ref_id)
        return session_tag(row) if row is not None else None
    row = db.session.get(Job, order.ref_id)
    return job_tag(row) if row is not None else None


def _is_pending(info) -> bool:
    return info.state in (JobState.QUEUED, JobState.QUEUED_HELD)


def changed_terms(order: Order, info, *, account: str) -> dict[str, list]:
    """How the Slurm job differs from what is (to be) approved; {} when it matches."""
    approved = check.approved_terms(order, tag_of(order), account=account)
    return check.differences(approved, info, running=not _is_pending(info))


def _cancel_changed(actor, order: Order, scheduler, diffs: dict, stage: str) -> str:
    """Cancel a job that no longer matches its request and close the order (commits).

    Returns the message for the approver (and the requester, as the decision message).
    Raises ServiceError("slurm_*") when the cancel fails: then nothing is recorded.
    """
    try:
        scheduler.operator_cancel(order.slurm_job_id)
    except AdapterError as exc:
        log.error("job %s changed outside the portal (%s) but could not be cancelled: %s",
                  order.slurm_job_id, check.describe(diffs), exc.message)
        raise ps.slurm_error(exc) from exc
    text = str(_l("The job was changed in Slurm outside the portal (%(changes)s), so it was "
                  "cancelled instead of being released. Submit a new request in the portal.",
                  changes=check.describe(diffs)))
    order.approval, order.state, order.decision_message = "closed", "cancelled", text
    if actor is not None:
        order.decided_by_id, order.decided_at = actor.id, db.utcnow()
    ordersvc.add_event(order, "changed", actor, stage=stage, differences=diffs)
    audit.record("approval.job_changed", f"order:{order.id}", actor=actor, commit=False,
                 requester=order.user.username if order.user else None,
                 slurm_job_id=order.slurm_job_id, stage=stage, differences=diffs)
    db.session.commit()
    log.warning("order %s: job %s changed outside the portal (%s): cancelled", order.id,
                order.slurm_job_id, check.describe(diffs))
    return text


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


def _check_job(order: Order, backend):
    """The job must still be waiting in Slurm; otherwise close the order and say why.

    Returns the job as Slurm shows it."""
    info = state = None
    if order.slurm_job_id:
        try:
            info = backend.scheduler.info(order.slurm_job_id)
            state = info.state
        except JobNotFound:
            state = None
        except AdapterError as exc:
            raise ps.slurm_error(exc) from exc  # a 503 naming the outage (issue #13)
    if state is None or state.is_terminal:
        order.approval, order.state = "closed", "cancelled"
        ordersvc.add_event(order, "closed", state=str(state) if state else "gone")
        db.session.commit()
        raise ServiceError(_l("The job of this request no longer waits in Slurm (it was "
                              "cancelled or has ended), so there is nothing to decide."),
                           "job_gone", 409)
    return info


def approve(actor, order_id: int, backend) -> Order:
    """Let the held job run: move it into `<account>_approved` and release it (operator).

    Before the release the operator compares the job with the recorded request, and
    again right after it: a job changed outside the portal is cancelled, not run
    (ServiceError "job_changed", the order closed, audit `approval.job_changed`).

    Raises NotFound, Forbidden (own request, not a manager), ServiceError
    (already_decided, job_gone, job_changed, slurm_*). Nothing changes in the portal
    unless Slurm did.
    """
    order = get_for_decision(actor, order_id)
    _check_open(actor, order)
    info = _check_job(order, backend)
    unix_user = order.user.unix_user
    target = approved_account(order.account)
    # Only the operator can move a job into <account>_approved: an earlier attempt whose
    # release failed left it there.
    where = target if info.account == target else order.account
    if diffs := changed_terms(order, info, account=where):
        raise ServiceError(_cancel_changed(actor, order, backend.scheduler, diffs,
                                           "before_release"), "job_changed", 409)
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
    _check_released(actor, order, backend)
    return order


def _check_released(actor, order: Order, backend) -> None:
    """Right after the release: a change made between the check and the release (on a
    site without the job_submit/lua policy) is caught here, else by the worker."""
    try:
        info = backend.scheduler.info(order.slurm_job_id)
    except AdapterError as exc:
        log.warning("approved job %s not re-read (%s); the worker checks it", order.slurm_job_id,
                    exc.message)
        return
    if info.state.is_terminal:
        return
    if diffs := changed_terms(order, info, account=approved_account(order.account)):
        raise ServiceError(_cancel_changed(actor, order, backend.scheduler, diffs,
                                           "after_release"), "job_changed", 409)


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


def worker_step(scheduler, jobs: list[dict] | None = None) -> dict:
    """Once per worker cycle, after the job/session sync (cheap when nothing waits):

    - an order made while Slurm did not answer gets its Slurm job id once the worker has
      submitted it (and, waiting for approval, its operator hold);
    - a request whose job ended or was cancelled (e.g. from the shell) while it waited is
      closed, so managers no longer see it;
    - an approved job that has not started yet is compared with its request (`jobs`: the
      cycle's squeue snapshot, else one squeue for those jobs); a changed one is cancelled
      (see recheck_released).
    """
    from portal.models import Job, Session

    synced, to_hold = 0, []
    try:
        synced += ensure_orders(scheduler)
        stmt = select(Order).where(
            (Order.slurm_job_id.is_(None) & (Order.state == "submitting"))
            | (Order.approval == "pending"))
        for order in db.session.scalars(stmt).all():
            model = Session if order.kind == "session" else Job
            row = db.session.get(model, order.ref_id)
            open_states = SESSION_OPEN if model is Session else JOB_ACTIVE
            alive = row is not None and row.state in open_states
            if row is not None and row.slurm_job_id and not order.slurm_job_id:
                order.slurm_job_id, order.state = row.slurm_job_id, "submitted"
                ordersvc.add_event(order, "submitted", slurm_job_id=row.slurm_job_id)
                ordersvc.link_charges(order)
                if order.approval == "pending" and alive:
                    to_hold.append(order)  # after the commit below (issue #13)
                synced += 1
            if order.approval == "pending" and not alive:
                order.approval = "closed"
                order.state = getattr(row, "state", None) or "gone"
                ordersvc.add_event(order, "closed", state=order.state)
                synced += 1
            elif order.slurm_job_id is None and not alive:
                order.state = getattr(row, "state", None) or "gone"
        db.session.commit()
        for order in to_hold:
            _operator_hold(order, scheduler, order.slurm_job_id)
        changed = recheck_released(scheduler, jobs)
    except Exception as exc:  # noqa: BLE001 - one failing step must not stop the cycle
        db.session.rollback()
        log.exception("orders: sync failed")
        return {"orders_error": str(exc)}
    out = {"orders_synced": synced} if synced else {}
    if changed:
        out["orders_changed"] = changed
    return out


# Sessions never submitted (waiting for, or refused by, their owner) are no order yet.
UNORDERED_SESSION_STATES = ("awaiting", "declined", "withdrawn")
BACKFILL_BATCH = 200
BACKFILL_AFTER_MIN = 10


def ensure_orders(scheduler) -> int:
    """Exactly one order per session, job and scheduled run, however it was made (issue
    #16): a row without one gets it (history: "recorded late"); an order whose job Slurm
    got again under a new id follows it; charges made first are linked. Returns the count.
    """
    from datetime import timedelta

    from portal.models import Job, Session

    done, to_hold = 0, []
    # A row being created right now gets its order from its create call (after sbatch).
    settled = db.utcnow() - timedelta(minutes=BACKFILL_AFTER_MIN)
    for model, kind_of in ((Session, lambda r: "session"),
                           (Job, lambda r: "scheduled" if r.schedule_id else "job")):
        kinds = ("session",) if model is Session else ("job", "scheduled")
        has_order = select(Order.id).where(Order.kind.in_(kinds), Order.ref_id == model.id)
        stmt = select(model).where(~has_order.exists(), model.created_at < settled)
        if model is Session:
            stmt = stmt.where(Session.state.not_in(UNORDERED_SESSION_STATES))
        for row in db.session.scalars(stmt.order_by(model.id).limit(BACKFILL_BATCH)).all():
            alive = row.state in (SESSION_OPEN if model is Session else JOB_ACTIVE)
            pending = alive and needs_approval(row.project, row.gpu_count)
            order = ordersvc.record(kind_of(row), row, approval="pending" if pending else "none")
            ordersvc.add_event(order, "recorded_late")
            db.session.flush()
            ordersvc.link_charges(order)
            if pending and row.slurm_job_id:
                to_hold.append((order, row.slurm_job_id))
            done += 1
        moved = (select(Order, model.slurm_job_id)
                 .join(model, (Order.ref_id == model.id) & Order.kind.in_(kinds))
                 .where(model.slurm_job_id.is_not(None), Order.slurm_job_id.is_not(None),
                        model.slurm_job_id != Order.slurm_job_id))
        for order, new_id in db.session.execute(moved).all():
            ordersvc.add_event(order, "resubmitted", slurm_job_id=new_id,
                               previous=order.slurm_job_id)
            order.slurm_job_id = new_id
            ordersvc.link_charges(order)
            done += 1
    db.session.commit()  # issue #13: no write transaction open while scontrol runs
    for order, slurm_job_id in to_hold:
        _operator_hold(order, scheduler, slurm_job_id)  # commits after each hold
    return done


def recheck_released(scheduler, jobs: list | None = None) -> int:
    """Approved orders whose job has not been seen running yet ("released"): compare the
    job in this cycle's squeue snapshot (`jobs`: JobInfo or their plain dicts; None: ask
    squeue for just those jobs) with the request; cancel it on a difference.

    Once seen running and matching the order is "started" (Slurm does not let the owner
    change a running job's resources); gone from squeue or ended, it is "ended".
    Returns how many were cancelled.
    """
    from portal.models import Job, Session

    orders = list(db.session.scalars(select(Order).where(
        Order.approval == "approved", Order.state == "released",
        Order.slurm_job_id.is_not(None))))
    if not orders:
        return 0
    if jobs is None:
        try:
            jobs = scheduler.info_all(job_ids=[o.slurm_job_id for o in orders])
        except AdapterError as exc:
            log.warning("approved jobs not re-checked: %s", exc.message)
            return 0
    by_id = {str(check.field(j, "id")): j for j in jobs}
    cancelled, to_cancel = 0, []
    for order in orders:
        job = by_id.get(order.slurm_job_id)
        if job is None:
            model = Session if order.kind == "session" else Job
            row = db.session.get(model, order.ref_id)
            if row is None or row.state not in (SESSION_OPEN if model is Session else JOB_ACTIVE):
                order.state = "ended"
            continue
        state = JobState(check.field(job, "state") or "unknown")
        if state is JobState.UNKNOWN:
            continue
        if state.is_terminal:
            order.state = "ended"
            continue
        running = state not in (JobState.QUEUED, JobState.QUEUED_HELD)
        approved = check.approved_terms(order, tag_of(order),
                                        account=approved_account(order.account))
        if diffs := check.differences(approved, job, running=running):
            to_cancel.append((order, diffs))
        elif running:
            order.state = "started"
    db.session.commit()  # before any scancel: no write transaction open meanwhile (#13)
    for order, diffs in to_cancel:
        try:
            _cancel_changed(None, order, scheduler, diffs, "before_start")
            cancelled += 1
        except ServiceError:
            pass  # Slurm did not cancel it: logged; the next cycle tries again
    return cancelled
