"""Extend a running session or job by N hours (issue #17, item 1).

Slurm lets a user lower a job's TimeLimit but never raise it, and the dev cluster's
job_submit.lua refuses any user change to a portal job; so the portal raises it as the
operator (`scontrol update JobId=… TimeLimit=…`, adapters/scheduler/slurm.py), after
checking the caps a user could not get past otherwise:

- the project's MaxWall (the portal's record of its QOS MaxWall: the most one session or
  job may run),
- the partition's MaxTime, where it has one,
- what the wallet covers: the extra hours × the job's billing units must fit in what is
  left once the project's running work has what its time limits may still use. Where Slurm
  enforces the budget (GrpTRESMins=billing on the project QOS) "left" is Slurm's budget
  left; elsewhere it is the balance, less the cost the running jobs will be charged.

Decided at once, on the request's path: the live TimeLimit and billing come from Slurm
(one squeue for the job and one for the project's running jobs), the update is the
operator's, and the new TimeLimit is read back before the row, the end time and the audit
log say so. A cap that applies refuses in words, naming the cap and the most that would
fit (whole hours). No database transaction is open while Slurm commands run; two
extensions of one object at once are serialised by a lock file next to the portal's
other locks, so the second reads the limit the first set.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from filelock import FileLock, Timeout
from flask_babel import lazy_gettext as _l

from adapters import dbdlock
from adapters.errors import AdapterError, JobNotFound, SlurmRejected
from adapters.scheduler import JobState
from portal import db
from portal.services import ServiceError, audit, outage, pricing
from portal.services import wallet as walletsvc
from portal.services.jobspec import time_limit_words
from portal.services.prices import billing_scale

MAX_HOURS = 24 * 30
_BILLING = re.compile(r"(?:^|,)billing=(\d+(?:\.\d+)?)")
LOCK_WAIT_SECONDS = 30.0


# -- pure rules (unit-tested) -----------------------------------------------------------


def parse_hours(value: object) -> int:
    """N whole hours, 1 to MAX_HOURS. Raises ServiceError("invalid_hours")."""
    hours = None
    if isinstance(value, int) and not isinstance(value, bool):
        hours = value
    elif isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        hours = int(value.strip())
    if hours is None or not 1 <= hours <= MAX_HOURS:
        raise ServiceError(_l("Extend by a whole number of hours, from 1 to %(most)s.",
                              most=MAX_HOURS), "invalid_hours")
    return hours


def billing_of(tres: str | None) -> Decimal | None:
    """The billing units in Slurm's TRES text ("cpu=2,…,billing=12"), or None."""
    match = _BILLING.search(tres or "")
    return Decimal(match.group(1)) if match else None


def _most_hours(minutes: float) -> int:
    return max(0, int(math.floor(minutes / 60)))


@dataclass(frozen=True)
class Limits:
    """What caps one extension. None: that cap does not apply."""

    max_wall: int | None = None  # minutes: the project's MaxWall
    partition: str | None = None
    partition_max: int | None = None  # minutes: the partition's MaxTime
    units: Decimal = Decimal(0)  # the job's billing units per minute (whole units)
    available: int | None = None  # billing-minutes the wallet still covers
    enforced: bool = False  # `available` is Slurm's budget (else the balance)


def _over(cap: str, message, most: int) -> ServiceError:
    return ServiceError(message, f"extend_over_{cap}", 409,
                        details={"cap": cap, "most_hours": most})


def decide(kind: str, current: int, hours: int, limits: Limits) -> int:
    """The new TimeLimit (minutes) for `current` + `hours`; raises ServiceError naming the
    first cap it breaks (MaxWall, then the partition's MaxTime, then the wallet) and the
    most whole hours that would fit, with code extend_over_<max_wall|partition|wallet>."""
    what = _l("session") if kind == "session" else _l("job")
    added = hours * 60
    new = current + added
    if limits.max_wall is not None and new > limits.max_wall:
        most = _most_hours(limits.max_wall - current)
        raise _over("max_wall", _l(
            "Not extended: this project allows at most %(limit)s per session or job (its "
            "MaxWall), and this %(what)s already has a time limit of %(current)s, so at "
            "most %(most)s h more would fit.", limit=time_limit_words(limits.max_wall),
            what=what, current=time_limit_words(current), most=most), most)
    if limits.partition_max is not None and new > limits.partition_max:
        most = _most_hours(limits.partition_max - current)
        raise _over("partition", _l(
            "Not extended: the partition %(partition)s allows at most %(limit)s per job "
            "(its MaxTime), and this %(what)s already has a time limit of %(current)s, so "
            "at most %(most)s h more would fit.", partition=limits.partition or "",
            limit=time_limit_words(limits.partition_max), what=what,
            current=time_limit_words(current), most=most), most)
    units = Decimal(math.floor(limits.units or 0))
    if limits.available is not None and units > 0 and units * added > limits.available:
        available = max(0, limits.available)
        most = _most_hours(float(Decimal(available) / units))
        price = units / billing_scale()
        left = walletsvc.minutes_to_money(available)
        source = (_l("the project's budget in Slurm") if limits.enforced
                  else _l("the wallet's balance"))
        raise _over("wallet", _l(
            "Not extended: the wallet does not cover %(hours)s h more at %(price)s per "
            "hour (%(cost)s); %(left)s is left of %(source)s once the project's running "
            "work has what its time limits may still use, so at most %(most)s h more "
            "would fit.", hours=hours, price=_money(price),
            cost=_money(price * hours), left=_money(left), source=source, most=most), most)
    return new


def _money(value) -> str:
    from portal.services.estimate import format_money

    return format_money(Decimal(value))


def ends_at(obj) -> datetime | None:
    """When a running session or job ends at the latest (UTC, naive like the rows): its
    start plus its TimeLimit, or a session's chosen end time when that is earlier."""
    end = None
    started, limit = getattr(obj, "started_at", None), getattr(obj, "time_limit_min", None)
    if started is not None and limit:
        end = started + timedelta(minutes=int(limit))
    chosen = getattr(obj, "end_at", None)
    if chosen is not None and (end is None or chosen < end):
        end = chosen
    return end


# -- what the caps are, from Slurm and the portal ----------------------------------------


def _committed(jobs, own_id: str, enforced: bool, now: datetime) -> int:
    """Billing-minutes the project's other running jobs may still use: their remaining
    time (Slurm's budget already counts what they used) where Slurm enforces the budget,
    else their whole time limit (the balance is charged only when they end)."""
    total = Decimal(0)
    for job in jobs:
        if job.id == own_id or job.state != JobState.RUNNING or not job.time_limit:
            continue
        units = Decimal(math.floor(billing_of(job.tres) or 0))
        minutes = job.time_limit
        if enforced and job.start_time is not None:
            elapsed = (now - job.start_time.astimezone(UTC)).total_seconds() / 60
            minutes = max(0, math.ceil(job.time_limit - elapsed))
        total += units * minutes
    return int(total)


def _own_committed(info, enforced: bool, now: datetime) -> int:
    """What this job's current limit still holds (enforced: its remaining time; else its
    whole limit, charged when it ends)."""
    units = Decimal(math.floor(billing_of(info.tres) or 0))
    minutes = info.time_limit or 0
    if enforced and info.start_time is not None:
        elapsed = (now - info.start_time.astimezone(UTC)).total_seconds() / 60
        minutes = max(0, math.ceil(minutes - elapsed))
    return int(units * minutes)


def _limits(obj, info, scheduler) -> Limits:
    from portal.services import cluster

    project = obj.project
    view = cluster.cached_view()
    partition = info.partition or getattr(obj, "partition", None)
    record = pricing.partition_record(view, partition)
    partition_max = record.get("max_time") if record else None
    units = billing_of(info.tres)
    if units is None:  # squeue showed no billing: the price the form showed
        units = pricing.rate(obj.gpu_model, obj.gpu_count or 0, obj.cpus or 0,
                             obj.mem_gb or 0, partition=partition, view=view,
                             nodes=getattr(obj, "node_count", 1) or 1).billing
    budget = walletsvc.budget_view(project)
    now = datetime.now(UTC)
    try:
        running = scheduler.info_all(account=project.account, states=[JobState.RUNNING])
    except AdapterError as exc:
        raise outage.unavailable(exc) from None
    if budget.enforced:
        if budget.left_minutes is None:
            raise ServiceError(_l("Not extended: the project's budget is not set in Slurm "
                                  "yet; try again in a minute."), "extend_budget_unknown",
                               409, details={"cap": "wallet", "most_hours": 0})
        left = budget.left_minutes
    else:
        left = walletsvc.money_to_minutes(walletsvc.balance(project.id))
    available = (left - _committed(running, info.id, budget.enforced, now)
                 - _own_committed(info, budget.enforced, now))
    return Limits(max_wall=project.max_wall_minutes, partition=partition,
                  partition_max=int(partition_max) if partition_max else None,
                  units=Decimal(units), available=available, enforced=budget.enforced)


@contextlib.contextmanager
def _one_at_a_time(kind: str, obj_id: int) -> Iterator[None]:
    """One extension of one object at a time on this host (next to the portal's locks)."""
    path = dbdlock.lock_file()
    if path is None:
        yield
        return
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    lock = FileLock(os.path.join(directory, f"extend-{kind}-{int(obj_id)}.lock"), mode=0o600,
                    thread_local=False)
    try:
        lock.acquire(timeout=LOCK_WAIT_SECONDS)
    except Timeout:
        raise ServiceError(_l("Another extension of this is still being made; try again "
                              "in a moment."), "extend_in_progress", 409) from None
    try:
        yield
    finally:
        lock.release()


# -- the services --------------------------------------------------------------------


def extend_session(user, session_id: int, hours: object, *, scheduler=None):
    """The owner extends a running session by `hours`. Returns the session."""
    from portal.services import sessions as sessionsvc

    session = sessionsvc.get_session(user, session_id)
    if session.state not in ("running", "starting"):
        raise ServiceError(_l("Only a running session can be extended."), "not_running", 409)
    return _extend("session", session, parse_hours(hours), user, scheduler)


def extend_job(user, job_id: int, hours: object, *, scheduler=None):
    """The owner extends a running job by `hours`. Returns the job."""
    from portal.services import jobs as jobsvc

    job = jobsvc.get_job(user, job_id)
    if job.state != "running":
        raise ServiceError(_l("Only a running job can be extended."), "not_running", 409)
    return _extend("job", job, parse_hours(hours), user, scheduler)


def _extend(kind: str, obj, hours: int, user, scheduler):
    if scheduler is None:
        from flask import current_app

        from adapters import factory

        scheduler = factory.make_scheduler(current_app.config)
    job_id, obj_id = obj.slurm_job_id, obj.id
    what = _l("session") if kind == "session" else _l("job")
    if not job_id:
        raise ServiceError(_l("Only a running %(what)s can be extended.", what=what),
                           "not_running", 409)
    db.session.commit()  # no transaction stays open while Slurm is asked (issue #13)
    with _one_at_a_time(kind, obj_id):
        try:
            info = scheduler.info(job_id)
        except JobNotFound:
            raise ServiceError(_l("Slurm no longer knows this job."), "not_running",
                               409) from None
        except AdapterError as exc:
            raise outage.unavailable(exc) from None
        if info.state != JobState.RUNNING or not info.time_limit:
            raise ServiceError(_l("Only a running %(what)s with a time limit can be "
                                  "extended.", what=what), "not_running", 409)
        current = int(info.time_limit)
        try:
            new = decide(kind, current, hours, _limits(obj, info, scheduler))
        except ServiceError as exc:
            db.session.rollback()
            audit.record(f"{kind}.extend_refused", f"{kind}:{obj_id}", actor=user,
                         hours=hours, time_limit_min=current, cap=exc.details.get("cap"),
                         most_hours=exc.details.get("most_hours"))
            raise
        db.session.rollback()  # the reads above opened one; Slurm is asked next
        try:
            scheduler.operator_set_time_limit(job_id, new)
            after = scheduler.info(job_id).time_limit
        except SlurmRejected as exc:
            raise ServiceError(_l("Slurm refused the extension: %(message)s",
                                  message=exc.message), "slurm_rejected") from None
        except AdapterError as exc:
            raise outage.unavailable(exc, _l(
                "The extension may or may not have been made; the page shows the time "
                "limit Slurm has once it answers.")) from None
    obj = db.session.get(type(obj), obj_id)
    obj.time_limit_min = int(after or new)
    if kind == "session" and obj.end_at is not None:
        obj.end_at = obj.end_at + timedelta(hours=hours)
    if kind == "job":
        from portal.services import jobs as jobsvc

        jobsvc.event(obj, "extended", hours=hours, time_limit_min=obj.time_limit_min)
    audit.record(f"{kind}.extend", f"{kind}:{obj_id}", actor=user, commit=False,
                 slurm_job_id=job_id, hours=hours, from_min=current,
                 to_min=obj.time_limit_min)
    db.session.commit()
    return obj
