"""The worker's job-state step: bring each open job's cached state up to date.

Reads the cycle's one `squeue` snapshot (decision 3); only jobs that left squeue, or that
squeue shows as ended (it has no exit code), are asked of the accounting database, all in
one `sacct` call. A job neither knows is UNKNOWN while either command failed, and "lost"
only when both answered and it has been gone for LOST_AFTER. Events are recorded on each
transition (held, started on <node>, and how it ended, with exit code and reason).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from adapters.errors import AdapterError
from portal import db
from portal.models import Job
from portal.services import cluster, submission
from portal.services import jobs as jobsvc

log = logging.getLogger(__name__)

LOST_AFTER = timedelta(minutes=10)
SACCT_LAG = timedelta(minutes=2)
ENDED = {"completed", "failed", "cancelled", "timeout", "node_fail", "preempted"}


def naive_utc(value) -> datetime | None:
    """An ISO string or aware datetime from Slurm as a naive UTC datetime."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.astimezone()  # Slurm's local time
    return value.astimezone(UTC).replace(tzinfo=None)


def index_jobs(snapshot_jobs: list[dict] | None) -> tuple[dict, dict]:
    """(by Slurm id, by portal tag) for the snapshot's job dicts. A tag maps to its first
    (lowest id) job: the one a row adopts; later ones are duplicates (duplicates.py)."""
    by_id, by_tag = {}, {}
    for info in snapshot_jobs or []:
        by_id[info["id"]] = info
        comment = info.get("comment") or ""
        if comment.startswith(jobsvc.TAG_PREFIX):
            known = by_tag.get(comment)
            if known is None or id_key(info["id"]) < id_key(known["id"]):
                by_tag[comment] = info
    return by_id, by_tag


def id_key(slurm_id: str) -> tuple[int, str]:
    """Slurm ids in submission order ("99" before "100")."""
    head = "".join(ch for ch in str(slurm_id).split("_")[0] if ch.isdigit())
    return (int(head) if head else 0, str(slurm_id))


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
    """One pass over every open job. Never raises for Slurm trouble; returns counts."""
    if snapshot_jobs is None:
        return {}
    now = now or db.utcnow()
    by_id, by_tag = index_jobs(snapshot_jobs)
    changed, ask_history = 0, []
    # The rows' changes are written at the commit, after every squeue/sacct look-up: a
    # flush in between would hold SQLite's write lock while Slurm answers (issue #13).
    with db.session.no_autoflush:
        for job in open_jobs():
            if job.slurm_job_id is None:
                changed += _recover(job, backend, by_tag, now)
                continue
            info = by_id.get(job.slurm_job_id)
            if info is not None and jobsvc.portal_state(info["state"]) not in ENDED:
                changed += apply(job, info)
            else:
                ask_history.append((job, info))
        if ask_history:
            changed += _from_history(backend, ask_history, now)
    db.session.commit()
    return {"changed": changed} if changed else {}


def history_by_id(backend, slurm_ids: list, what: str, logger: logging.Logger) -> dict | None:
    """sacct's records of `slurm_ids` as plain dicts by Slurm id (jobs and sessions).

    None, after a warning on `logger`, when sacct fails: the caller then changes nothing
    (`what` names the rows in the warning). Raises nothing for Slurm trouble.
    """
    try:
        found = backend.scheduler.history(slurm_ids)
    except AdapterError as exc:
        logger.warning("sacct failed, %s states stay as they were: %s", what, exc.message)
        return None
    return {info.id: cluster._plain(info) for info in found}


def _from_history(backend, pending: list[tuple[Job, dict | None]], now: datetime) -> int:
    """Ended jobs from sacct (with exit codes). squeue's word is used only when sacct
    still lacks a job SACCT_LAG after it ended; a job neither knows becomes "lost"."""
    by_id = history_by_id(backend, [job.slurm_job_id for job, _ in pending], "job", log)
    if by_id is None:
        return 0
    changed = 0
    for job, live in pending:
        info = by_id.get(job.slurm_job_id)
        if info is None and live is not None:
            ended = naive_utc(live.get("end_time"))
            info = live if ended is None or ended < now - SACCT_LAG else None
            if info is None:
                continue
        if info is not None:
            changed += apply(job, info)
        elif (job.submitted_at or job.created_at) < now - LOST_AFTER:
            job.state, job.reason = "lost", "Slurm has no record of this job"
            jobsvc.event(job, "lost")
            changed += 1
    return changed


def _recover(job: Job, backend, by_tag: dict, now: datetime) -> int:
    """A job recorded but not known to be submitted: adopt it by its tag, or — only once
    Slurm can no longer process its sbatch request (submission.is_settled) and neither squeue
    nor sacct knows the tag — mark it as never submitted. Never resubmitted here (issue
    #13: a resubmission after a lost answer made one job two). Schedule runs are left to
    the schedule step (it holds the schedule's lock).
    """
    info = by_tag.get(jobsvc.tag_of(job))
    if info is None and job.schedule_id is not None:
        return 0
    verdict, info = submission.resolve(job, info, lambda: jobsvc.find_submitted(job, backend),
                                       now)
    if verdict == "adopt":
        adopt(job, info, now)
        return 1
    if verdict == "gone":
        not_submitted(job)
        return 1
    return 0


def look_up_now(job: Job | None, backend=None) -> bool:
    """A job recorded without a Slurm id whose submitting process is gone (an API retry
    took its Idempotency-Key over, issue #13): ask Slurm for its tag now instead of at the
    worker's next cycle, and adopt what it has. Never submits; when Slurm does not have it
    (yet) or cannot answer, the worker decides as always (`_recover`). Nothing is open in
    the database while squeue/sacct run. Returns whether the job was adopted."""
    if job is None or job.slurm_job_id or job.state != "submitting":
        return False
    db.session.commit()
    try:
        info = jobsvc.find_submitted(job, backend or jobsvc.get_backend())
    except AdapterError as exc:
        log.warning("cannot look up job %s by its tag: %s", job.id, exc.message)
        return False
    if info is None:
        return False
    db.session.refresh(job)
    if job.slurm_job_id is not None or job.state != "submitting":
        return False  # the worker was quicker
    adopt(job, info, db.utcnow())
    db.session.commit()
    return True


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
