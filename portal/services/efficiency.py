"""Efficiency at the end (issue #17 item 6): what an ended job or session used against
what it held, like `seff` and Princeton's jobstats.

- CPU: TotalCPU / (elapsed × allocated CPUs);
- memory: MaxRSS (the largest step's peak) / the memory it held (AllocTRES mem);
- GPU: the mean utilisation of the portal's own monitoring samples (sessions run the
  sampler; the mean is taken at the resolution with the most samples), where there are any.

The worker's `efficiency` step asks sacct once per cycle (as the operator, like the
accounting import) about jobs and sessions that ended within WINDOW and have no row yet,
and stores one row each (portal/models/efficiency.py), so pages, the API and the "ended"
notification never ask Slurm (decision 3). A job sacct still shows as running is asked
again next cycle. No database transaction is open while sacct runs.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from adapters import factory
from adapters.errors import AdapterError
from adapters.factory import TERMINAL_STATES as TERMINAL
from adapters.factory import JobUsage, SlurmAccounting
from portal import db
from portal.models import Efficiency, Job, Session, SessionMetric

log = logging.getLogger(__name__)

WINDOW = timedelta(days=2)  # ended this recently and without a row: ask sacct
BATCH = 200  # jobs per sacct call
# A portal job's ended states (jobsync.ENDED; named here so this module imports no sync).
JOB_ENDED = ("cancelled", "completed", "failed", "node_fail", "preempted", "timeout")


def percent(used: float | None, held: float | None) -> float | None:
    """used / held in percent, one decimal; None when either is unknown or nothing was held."""
    if used is None or not held:
        return None
    return round(100.0 * used / held, 1)


def figures(row: Efficiency | None) -> dict | None:
    """The page's and API's view of a row: percentages and what they are made of."""
    if row is None:
        return None
    return {
        "cpu_percent": percent(row.total_cpu_s, row.elapsed_s * row.alloc_cpus),
        "memory_percent": percent(row.max_rss_mb, row.alloc_mem_mb),
        "gpu_percent": round(row.gpu_util, 1) if row.gpus and row.gpu_util is not None
        else None,
        "elapsed_s": row.elapsed_s, "cpu_time_s": round(row.total_cpu_s, 3),
        "cpus": row.alloc_cpus,
        "max_memory_mb": round(row.max_rss_mb, 1) if row.max_rss_mb is not None else None,
        "memory_mb": row.alloc_mem_mb, "gpus": row.gpus, "gpu_samples": row.gpu_samples,
        "slurm_state": row.state,
    }


def of(kind: str, ref_id: int) -> dict | None:
    """figures() of a job ("job") or session ("session"); None while not recorded."""
    return figures(db.session.scalar(select(Efficiency).where(
        Efficiency.kind == kind, Efficiency.ref_id == ref_id)))


def gpu_mean(session_id: int) -> tuple[float | None, int]:
    """(mean GPU utilisation %, samples) from the session's monitoring buckets."""
    rows = db.session.execute(
        select(SessionMetric.resolution, func.sum(SessionMetric.gpu_util * SessionMetric.n),
               func.sum(SessionMetric.n))
        .where(SessionMetric.session_id == session_id, SessionMetric.gpu_util.is_not(None))
        .group_by(SessionMetric.resolution)).all()
    best = max(rows, key=lambda r: r[2] or 0, default=None)
    if best is None or not best[2]:
        return None, 0
    return float(best[1]) / float(best[2]), int(best[2])


def candidates(now: datetime) -> list[tuple[str, object]]:
    """Ended jobs and sessions that ran, ended within WINDOW and have no row yet."""
    since = now - WINDOW
    out: list[tuple[str, object]] = []
    for kind, model, ended in (("job", Job, JOB_ENDED),
                               ("session", Session, ("ended", "failed"))):
        done = select(Efficiency.ref_id).where(Efficiency.kind == kind)
        out += [(kind, row) for row in db.session.scalars(
            select(model).where(model.state.in_(ended), model.slurm_job_id.is_not(None),
                                model.started_at.is_not(None), model.ended_at >= since,
                                model.id.not_in(done))
            .order_by(model.ended_at).limit(BATCH))]
    return out[:BATCH]


def store(kind: str, row, usage: JobUsage) -> Efficiency:
    """One row for this job or session (the session's GPU mean from its samples)."""
    util, samples = gpu_mean(row.id) if kind == "session" else (None, 0)
    record = Efficiency(kind=kind, ref_id=row.id, slurm_job_id=usage.job_id,
                        state=usage.state, elapsed_s=usage.elapsed_s,
                        total_cpu_s=usage.total_cpu_s, alloc_cpus=usage.alloc_cpus,
                        max_rss_mb=usage.max_rss_mb, alloc_mem_mb=usage.alloc_mem_mb,
                        gpus=usage.gpus, gpu_util=util, gpu_samples=samples,
                        recorded_at=db.utcnow())
    db.session.add(record)
    return record


def collect(scheduler, now: datetime | None = None, source: SlurmAccounting | None = None
            ) -> int:
    """Ask sacct about every candidate in one call and store what it knows; the count."""
    now = now or db.utcnow()
    todo = candidates(now)
    if not todo:
        return 0
    source = source or factory.make_accounting(scheduler, current_app.config)
    ids = sorted({row.slurm_job_id for _, row in todo})
    db.session.commit()  # nothing open while sacct runs
    usage, problems = source.usage(ids)
    for problem in problems[:3]:
        log.warning("efficiency: sacct line skipped: %s", problem)
    stored = 0
    for kind, row in todo:
        found = usage.get(row.slurm_job_id)
        if found is None or found.state not in TERMINAL:
            continue  # not in slurmdbd yet, or still running there: next cycle
        store(kind, row, found)
        stored += 1
    try:
        db.session.commit()
    except IntegrityError:  # another worker stored the same rows first
        db.session.rollback()
        return 0
    return stored


def worker_step(scheduler) -> dict:
    """The worker's step; {"efficiency": n} when it stored rows. Never raises for Slurm."""
    try:
        stored = collect(scheduler)
    except AdapterError as exc:
        db.session.rollback()
        log.warning("efficiency: sacct failed: %s", exc.message)
        return {"efficiency_error": exc.message}
    return {"efficiency": stored} if stored else {}
