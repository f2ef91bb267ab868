"""The schedule engine: exactly one upcoming pending Slurm job per active schedule (F8).

`step` is the worker's schedule step. It reads the cycle's squeue snapshot and touches
only schedules that need something (a cycle where nothing is due writes nothing and runs
no command). `reconcile` does the work for one schedule under a short lease on its row
(an atomic conditional UPDATE), so the worker and a page never act on it at once:

- the upcoming run still pending (or held) in Slurm: nothing to do, never a second one;
- it started (or ended after starting): the next run is submitted with --begin, and in
  single-line mode --dependency=afterany on the runs still active, so runs never overlap;
- it was cancelled before it started (from the portal or with scancel): that run is
  skipped and the next one submitted;
- it was recorded but its sbatch answer was lost (crash, timeout): it is found by its
  --comment tag and adopted, or submitted if Slurm has never seen it;
- Slurm cannot be asked: nothing is submitted (unknown is not gone).

Runs due while the portal was down are skipped (default) or run once, late, per
schedule; either way the schedule's history says so. A crashed holder's lease expires
after SCHEDULE_LOCK_SECONDS.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from adapters.errors import AdapterError
from portal import db
from portal.models import Job, Schedule, ScheduleEvent
from portal.services import ServiceError, approvals, cluster, jobsync, tracked
from portal.services import crontime as ct
from portal.services import jobs as jobsvc
from portal.services.core.membership import refuse_archived
from portal.services.jobspec import parse_request, spec_of
from portal.services.requestcheck import project_limits

log = logging.getLogger(__name__)

PENDING = ("pending", "held")
BACKOFF = timedelta(minutes=5)


def history(schedule: Schedule, kind: str, job: Job | None = None, **details) -> None:
    """Append to the schedule's history (committed by the caller)."""
    db.session.add(ScheduleEvent(
        schedule_id=schedule.id, kind=kind, job_id=job.id if job is not None else None,
        details={k: v for k, v in details.items() if v is not None},
    ))


def _seconds(key: str, default: float) -> timedelta:
    return timedelta(seconds=float(current_app.config.get(key, default)))


def lease() -> timedelta:
    return _seconds("SCHEDULE_LOCK_SECONDS", 120)


def grace() -> timedelta:
    """How late a run may be submitted before it counts as missed."""
    interval = float(current_app.config.get("WORKER_INTERVAL", 10))
    return _seconds("SCHEDULE_MISSED_GRACE", max(60.0, 3 * interval))


def _owner() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim(schedule_id: int, owner: str, now: datetime) -> bool:
    """Take the schedule's lease if it is free or expired (atomic). Commits."""
    result = db.session.execute(
        update(Schedule)
        .where(Schedule.id == schedule_id)
        .where(or_(Schedule.locked_until.is_(None), Schedule.locked_until < now))
        .values(lock_owner=owner, locked_until=now + lease())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def release(schedule_id: int, owner: str, until: datetime | None = None) -> None:
    """Give the lease back (or keep others off until `until`, as a back-off). Commits."""
    db.session.rollback()
    db.session.execute(
        update(Schedule)
        .where(Schedule.id == schedule_id, Schedule.lock_owner == owner)
        .values(lock_owner=None if until is None else "backoff", locked_until=until)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _needs_action(status, locked_until, ups, by_id, now) -> bool:
    if locked_until is not None and locked_until > now:
        return False
    if status != "active":
        return bool(ups)
    if len(ups) != 1 or ups[0] is None:
        return True
    info = by_id.get(ups[0])
    return info is None or info["state"] not in ("queued", "queued_held")


def step(backend, snapshot_jobs: list[dict] | None, now: datetime | None = None) -> dict:
    """The worker's schedule step. Skipped (returns {}) when squeue did not answer."""
    if snapshot_jobs is None:
        return {}
    now = now or db.utcnow()
    by_id, by_tag = tracked.index(snapshot_jobs)
    rows = db.session.execute(
        select(Schedule.id, Schedule.status, Schedule.locked_until, Job.slurm_job_id, Job.id)
        .outerjoin(Job, (Job.schedule_id == Schedule.id) & Job.upcoming.is_(True))
        .where(or_(Schedule.status == "active", Job.id.is_not(None)))
    ).all()
    grouped: dict[int, tuple] = {}
    for sid, status, locked_until, slurm_id, job_id in rows:
        entry = grouped.setdefault(sid, (status, locked_until, []))
        if job_id is not None:
            entry[2].append(slurm_id)
    db.session.rollback()  # end the read transaction before any lease is taken
    submitted = errors = 0
    for sid, (status, locked_until, ups) in grouped.items():
        if not _needs_action(status, locked_until, ups, by_id, now):
            continue
        try:
            submitted += reconcile(sid, backend, by_id=by_id, by_tag=by_tag, now=now)
        except Exception:  # noqa: BLE001 - one schedule's trouble must not stop the others
            log.exception("schedule %s: reconcile failed", sid)
            db.session.rollback()
            errors += 1
    out = {"submitted": submitted} if submitted else {}
    return {**out, "errors": errors} if errors else out


def reconcile(schedule_id: int, backend=None, *, by_id=None, by_tag=None, now=None,
              wait: float = 0.0) -> int:
    """Bring one schedule to exactly one upcoming run; returns how many runs it submitted.

    `by_id`/`by_tag` are the cycle's snapshot; without them (a page acting) only a
    schedule with no upcoming run gets one. Waits up to `wait` seconds for the lease.
    """
    backend = backend or jobsvc.get_backend()
    owner, deadline = _owner(), time.monotonic() + wait
    while not claim(schedule_id, owner, now or db.utcnow()):
        if time.monotonic() >= deadline:
            return 0
        time.sleep(0.2)
    until = None
    try:
        submitted, backoff = _reconcile_locked(schedule_id, backend, by_id, by_tag,
                                               now or db.utcnow())
        until = (now or db.utcnow()) + BACKOFF if backoff else None
        return submitted
    finally:
        release(schedule_id, owner, until)


def _reconcile_locked(schedule_id, backend, by_id, by_tag, now) -> tuple[int, bool]:
    schedule = db.session.get(Schedule, schedule_id, populate_existing=True)
    ups = list(db.session.scalars(
        select(Job).where(Job.schedule_id == schedule_id, Job.upcoming.is_(True))
        .order_by(Job.run_at, Job.id)
    ))
    if schedule.status != "active":
        for job in ups:
            _cancel_run(schedule, job, backend, "run_cancelled")
        db.session.commit()
        return 0, False
    verdicts = [_classify(schedule, job, backend, by_id, by_tag, now) for job in ups]
    db.session.commit()
    if "unknown" in verdicts:
        return 0, False
    pending = [job for job, verdict in zip(ups, verdicts, strict=True) if verdict == "pending"]
    for extra in pending[1:]:  # never two: keep the earliest
        _cancel_run(schedule, extra, backend, "duplicate_cancelled")
    db.session.commit()
    if pending:
        return 0, False
    return _submit_next(schedule, backend, by_id, now)


def _classify(schedule, job, backend, by_id, by_tag, now) -> str:
    """pending | done | unknown for one upcoming run, updating the row as it learns."""
    if job.slurm_job_id is None:
        verdict = _resolve_unsubmitted(schedule, job, backend, by_id, by_tag, now)
        if verdict is not None:
            return verdict
    if by_id is None:  # a page acting: trust the cached row
        return "pending" if job.state in PENDING + ("submitting",) else _finish(schedule, job)
    info = by_id.get(job.slurm_job_id)
    if info is None:
        try:
            found = backend.scheduler.history([job.slurm_job_id])
        except AdapterError:
            return "unknown"
        info = cluster._plain(found[0]) if found else None
    if info is None:
        if job.run_at and job.run_at > now:  # Slurm forgot a future run: submit it again
            return _relaunch(schedule, job, backend, now)
        job.state, job.reason = "lost", "Slurm has no record of this run"
        return _finish(schedule, job)
    jobsync.apply(job, info)
    return "pending" if job.state in PENDING else _finish(schedule, job)


def _resolve_unsubmitted(schedule, job, backend, by_id, by_tag, now) -> str | None:
    """A run recorded without a Slurm id: adopt it by tag, or submit it again — but only
    once Slurm can no longer process its earlier sbatch request (tracked.verdict, issue
    #13); until then it is "unknown" and nothing is submitted."""
    info = (by_tag or {}).get(jobsvc.tag_of(job))
    # No sbatch was ever started for a run without `submit_started_at` (the attempt records
    # it before any command, and this schedule's lease keeps others off): it needs no wait.
    never_started = job.submit_started_at is None
    verdict, info = tracked.verdict(job, jobsvc.tag_of(job), info, backend, now,
                                    settled=True if never_started else None)
    if verdict == "wait":
        return "unknown"
    if verdict == "adopt":
        jobsync.adopt(job, info, now)
        return None
    if job.run_at is not None and job.run_at < now - grace():
        job.state, job.reason = "cancelled", "never reached Slurm in time"
        return _finish(schedule, job)
    return _relaunch(schedule, job, backend, now)


def _relaunch(schedule, job, backend, now) -> str:
    begin = max(job.run_at or now, now)
    try:
        jobsvc.launch(job, backend, begin=begin.replace(tzinfo=UTC),
                      dependency=_dependency(schedule, backend, None, job.id),
                      keep_rejected=True)
    except (ServiceError, AdapterError) as exc:
        history(schedule, "error", job, message=str(getattr(exc, "message", exc)))
        return "done"
    return "pending" if job.slurm_job_id else "unknown"


def _finish(schedule, job) -> str:
    """The run is no longer upcoming: it started, or it was skipped before starting."""
    job.upcoming = False
    if job.started_at is None:
        history(schedule, "skipped", job, run_at=_iso(job.run_at), state=job.state)
    else:
        history(schedule, "started", job, node=job.nodes)
    return "done"


def _cancel_run(schedule, job, backend, kind: str) -> None:
    if job.slurm_job_id and job.state not in jobsvc.TERMINAL:
        try:
            jobsvc.cancel(job, backend)
        except ServiceError as exc:
            log.warning("schedule %s: cancelling run %s: %s", schedule.id, job.id, exc.message)
    job.upcoming, job.hidden = False, True
    if job.state == "submitting":
        job.state = "cancelled"
    history(schedule, kind, job, run_at=_iso(job.run_at))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def _next_due(schedule, now) -> tuple[datetime | None, datetime | None]:
    """(due time, begin time) of the next run, applying the missed-run policy.

    Product rule (README, "When the first run is"): a schedule owns every cron time at or
    after its start, to the whole second, so the anchor is one second before the start
    (croniter looks strictly after it). A schedule created without a start starts at its
    creation second and so owns a run due in that very second.
    """
    tz = ct.zone(schedule.timezone)
    anchor = max(schedule.last_run_at or datetime.min, schedule.start_at - timedelta(seconds=1))
    due = ct.next_runs(schedule.cron, tz, anchor, 1, until=schedule.end_at)
    if not due:
        return None, None
    if due[0] >= now - grace():
        return due[0], max(due[0], now)
    missed = ct.runs_between(schedule.cron, tz, anchor, now + timedelta(seconds=1))
    info = {"count": len(missed), "first": _iso(missed[0]), "last": _iso(missed[-1])}
    if schedule.missed_policy == "run_late":
        history(schedule, "run_late", **info)
        return missed[-1], now
    history(schedule, "missed", **info)
    due = ct.next_runs(schedule.cron, tz, now, 1, until=schedule.end_at)
    return (due[0], due[0]) if due else (None, None)


def _submit_next(schedule, backend, by_id, now) -> tuple[int, bool]:
    """Record and submit the schedule's next run. Returns (submitted, back off?)."""
    due, begin = _next_due(schedule, now)
    if due is None:
        schedule.status = "ended"
        history(schedule, "ended")
        db.session.commit()
        return 0, False
    run_id = None
    try:
        job = _new_run(schedule, due)
        run_id = job.id
        dependency = _dependency(schedule, backend, by_id, job.id)
        jobsvc.launch(job, backend, begin=begin.replace(tzinfo=UTC), dependency=dependency,
                      keep_rejected=True)
    except (ServiceError, AdapterError) as exc:
        db.session.rollback()
        history(schedule, "error", message=str(getattr(exc, "message", exc)))
        db.session.commit()
        kept = db.session.get(Job, run_id) if run_id is not None else None
        if kept is not None:
            approvals.record("scheduled", kept, backend)  # a refused run is an order too (#16)
        return 0, True
    history(schedule, "submitted", job, run_at=_iso(due), slurm_job_id=job.slurm_job_id)
    db.session.commit()
    approvals.record("scheduled", job, backend)
    return 1, False


def _new_run(schedule, due: datetime) -> Job:
    """The run's row, committed before sbatch (its tag must be on record first)."""
    if schedule.template is None:
        raise ServiceError("The schedule's template no longer exists.", "no_template")
    user = schedule.user
    membership = jobsvc.require_membership(user, schedule.project_id)
    refuse_archived(membership.project)  # a schedule of an archived project runs no more
    if not user.is_enabled:
        raise ServiceError("The schedule's owner is deactivated.", "user_deactivated")
    request = parse_request(user, spec_of(schedule.template), cluster.cached_view(),
                            limits=project_limits(membership.project))
    number = schedule.run_count + 1
    job = jobsvc.new_job(
        user, membership, f"{schedule.name}-{number}", request,
        template_id=schedule.template_id, schedule_id=schedule.id, run_at=due, upcoming=True,
    )
    schedule.run_count, schedule.last_run_at = number, due
    db.session.add(job)
    db.session.commit()
    return job


def _dependency(schedule, backend, by_id, exclude: int) -> str | None:
    """Single-line: afterany on the schedule's runs that are still active in Slurm."""
    if schedule.mode != "single":
        return None
    ids = list(db.session.scalars(
        select(Job.slurm_job_id).where(
            Job.schedule_id == schedule.id, Job.id != exclude,
            Job.slurm_job_id.is_not(None), Job.state.in_(jobsvc.ACTIVE),
        )
    ))
    if not ids:
        return None
    if by_id is None:
        live = {j.id: cluster._plain(j) for j in backend.scheduler.info_all(job_ids=ids)}
    else:
        live = by_id
    alive = [i for i in ids if i in live and live[i]["state"] not in jobsync.ENDED]
    return "afterany:" + ":".join(sorted(alive, key=int)) if alive else None


def run_skipped(job: Job, backend) -> None:
    """A user deleted a schedule's upcoming run: record the skip, submit the next run."""
    schedule = db.session.get(Schedule, job.schedule_id)
    if schedule is None:
        return
    history(schedule, "skipped", job, run_at=_iso(job.run_at), by="user")
    db.session.commit()
    reconcile(schedule.id, backend, wait=3.0)


def worker_steps(scheduler, snapshot) -> dict:
    """The worker's job-state and schedule steps for one cycle, each on its own.

    Returns only what happened (an empty dict for a quiet cycle); a failing step is
    logged and rolled back without stopping the other.
    """
    from portal.services.core.backend import backend_for

    backend = backend_for(scheduler)
    jobs_data = snapshot.data["jobs"] if snapshot.data else None
    summary: dict = {}
    for key, function in (("jobs", jobsync.sync_jobs), ("schedules", step)):
        try:
            result = function(backend, jobs_data)
        except Exception as exc:  # noqa: BLE001 - steps are independent
            log.exception("worker step %s failed", key)
            db.session.rollback()
            result = {"error": str(exc)}
        if result:
            summary[key] = result
    return summary
