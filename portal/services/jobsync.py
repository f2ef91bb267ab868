"""The worker's job-state step: bring each open job's cached state up to date.

Reads the cycle's one `squeue` snapshot (decision 3); only jobs that left squeue, or that
squeue shows as ended (it has no exit code), are asked of the accounting database, all in
one `sacct` call. A job neither knows is UNKNOWN while either command failed, and "lost"
only when both answered and it has been gone for LOST_AFTER. Events are recorded on each
transition (held, started on <node>, and how it ended, with exit code and reason).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from adapters.scheduler.values import parse_tres
from portal import db
from portal.models import Job
from portal.services import jobs as jobsvc
from portal.services import tracked
from portal.services.tracked import history_by_id, id_key, naive_utc  # noqa: F401 - re-exported

log = logging.getLogger(__name__)

LOST_AFTER = timedelta(minutes=10)
SACCT_LAG = timedelta(minutes=2)
ENDED = {"completed", "failed", "cancelled", "timeout", "node_fail", "preempted"}


def _nodes(job: Job, state: str, nodes: list[str]) -> list[str]:
    """The job's nodes: while a multi-node job completes (and once it ended) squeue lists
    only the nodes still completing, so the nodes it ran on are kept (issue #15)."""
    if state == "completing" or state in ENDED:
        had = [n for n in (job.nodes or "").split(",") if n]
        return had + [n for n in nodes if n not in had] if had else list(nodes)
    return list(nodes)


def apply(job: Job, info: dict) -> bool:
    """Copy Slurm's view of the job onto the row, recording events. True if it changed."""
    state = jobsvc.portal_state(info.get("state") or "unknown")
    before = (job.state, job.started_at)
    _set(job, "reason", (info.get("reason") or None) and str(info["reason"])[:255])
    nodes = ",".join(_nodes(job, state, info.get("nodes") or [])) or None
    _set(job, "nodes", nodes[:255] if nodes else job.nodes)
    started = naive_utc(info.get("start_time"))
    if state in ("running", "completing") or (state in ENDED and started and nodes):
        _set(job, "started_at", started or job.started_at or db.utcnow())
    if job.started_at and before[1] is None:
        jobsvc.event(job, "started", at=job.started_at, node=job.nodes)
    if state == "held" and before[0] != "held":
        jobsvc.event(job, "held", reason=job.reason)
    if state in ENDED:
        _set(job, "ended_at", naive_utc(info.get("end_time")) or db.utcnow())
        _set(job, "exit_code", info.get("exit_code"))
        _set(job, "exit_signal", info.get("exit_signal"))
        if before[0] != state:
            jobsvc.event(job, state, at=job.ended_at, exit_code=job.exit_code,
                         signal=job.exit_signal, reason=job.reason)
    _set(job, "state", state)
    return (job.state, job.started_at) != before


def _set(row, attr: str, value) -> None:
    if getattr(row, attr) != value:
        setattr(row, attr, value)


def open_jobs() -> list[Job]:
    return list(db.session.scalars(select(Job).where(Job.state.in_(jobsvc.ACTIVE))))


def sync_jobs(backend, snapshot_jobs: list[dict] | None, now: datetime | None = None) -> dict:
    """One pass over every open job (tracked.sync). Never raises for Slurm trouble."""
    if snapshot_jobs is None:
        return {}
    return tracked.sync(open_jobs(), backend, POLL, snapshot_jobs, now, log)


class _JobPoll(tracked.Poll):
    """A batch job in the worker's sync: squeue's word is final while it has not ended;
    an ended one's exit code comes from sacct (squeue's word only when sacct still lacks
    it SACCT_LAG after the end); a job neither knows for LOST_AFTER is "lost"."""

    noun = "job"

    def tag(self, job: Job) -> str:
        return jobsvc.tag_of(job)

    def wait_for_scheduler(self, job: Job, info: dict | None) -> bool:
        # Schedule runs are left to the schedule step (it holds the schedule's lock).
        return info is None and job.schedule_id is not None

    def adopt(self, job: Job, info: dict, now: datetime, backend=None) -> None:
        adopt(job, info, now)

    def never_submitted(self, job: Job, now: datetime) -> None:
        not_submitted(job)

    def final_in_squeue(self, info: dict | None) -> bool:
        return info is not None and jobsvc.portal_state(info["state"]) not in ENDED

    def from_squeue(self, job: Job, info: dict, backend, now: datetime) -> int:
        return int(apply(job, info))

    def from_history(self, job: Job, info: dict | None, live: dict | None, backend,
                     now: datetime) -> int:
        if info is None and live is not None:
            ended = naive_utc(live.get("end_time"))
            info = live if ended is None or ended < now - SACCT_LAG else None
            if info is None:
                return 0
        if info is not None and not _nodes_recorded(info, now):
            return 0
        if info is not None:
            return int(apply(job, info))
        if tracked.unheard_of(job, now, LOST_AFTER):
            job.state, job.reason = "lost", "Slurm has no record of this job"
            jobsvc.event(job, "lost")
            return 1
        return 0


POLL = _JobPoll()


def _nodes_recorded(info: dict, now: datetime) -> bool:
    """Whether sacct's record of an ended job lists all its nodes. slurmdbd first records
    a multi-node job's end with only its first node in NodeList (measured on the multi-node
    dev cluster: `COMPLETED|gpu1|…,node=2` for 1–5 s, then `gpu[1-2]`), and an ended row is
    never read again, so such a record waits for the next cycle, for at most SACCT_LAG."""
    try:
        allocated = int(parse_tres(info.get("tres")).get("node") or 0)
    except ValueError:
        return True
    if allocated <= len(info.get("nodes") or []):
        return True
    ended = naive_utc(info.get("end_time"))
    return ended is not None and ended < now - SACCT_LAG


def _from_history(backend, pending: list[tuple[Job, dict | None]], now: datetime) -> int:
    """Jobs squeue did not settle, from one sacct call (the second half of sync_jobs)."""
    return POLL.settle(backend, pending, now, log)


def look_up_now(job: Job | None, backend=None) -> bool:
    """Settle a job whose submitting process is gone now (tracked.look_up_now: adopt it
    by its tag, or fail it when Slurm can no longer get it); called by the API when a
    retry takes an Idempotency-Key over. Never submits."""
    if job is None or job.slurm_job_id or job.state != "submitting":
        return False
    return tracked.look_up_now(job, backend or jobsvc.get_backend(), POLL)


def not_submitted(job: Job) -> None:
    """Slurm never got (and can no longer get) the job: it fails with a clear message."""
    job.state = "failed"
    job.error = ("The submission never reached Slurm (its controller did not answer), so "
                 "nothing ran. Run the job again if you still need it.")
    job.ended_at = db.utcnow()
    jobsvc.event(job, "not_submitted")


def adopt(job: Job, info: dict, now: datetime) -> None:
    """Record that the Slurm job `info` (found by its tag) is this job."""
    job.slurm_job_id, job.error, job.submit_ended_at = info["id"], None, None
    job.submitted_at = job.submitted_at or now
    jobsvc.event(job, "submitted", slurm_job_id=info["id"], adopted=True)
    apply(job, info)
