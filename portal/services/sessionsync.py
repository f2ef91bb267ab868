"""The worker's session step: bring every open session's state up to date from the cache.

Reads the cycle's one `squeue` snapshot (decision 3); sessions whose job left squeue, or
ended, are asked of the accounting database in one `sacct` call (squeue forgets finished
jobs after a while; sacct keeps them); a job squeue still shows as ended is taken at its
word at once. A running job becomes a "running" session once its
connection file names one of the job's nodes; until then it is "starting". A job that
ended with an error makes the session "failed" with the last lines of its log. Sessions
past their chosen end time are cancelled here (their Slurm time limit is only counted
from the planned start).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from adapters.errors import AdapterError
from portal import db
from portal.models import Session
from portal.services import audit, readystages, tracked
from portal.services import sessionconn as conn
from portal.services import sessionscript as scripts
from portal.services.core import backend as core_backend
from portal.services.core.backend import backend_for
from portal.services.core.states import SESSION_OPEN as OPEN
from portal.services.core.states import session_tag as tag_of
from portal.services.tracked import naive_utc

log = logging.getLogger(__name__)

ACTIVE_SLURM = ("queued", "queued_held", "running", "completing", "suspended")
FAILED_SLURM = ("failed", "node_fail")
LOST_AFTER = timedelta(minutes=10)


def log_tail(session: Session, files, max_bytes: int = 4096, lines: int = 20) -> str:
    """The last lines of the session's output log, read as the owner ("" if none)."""
    if not session.directory:
        return ""
    path = f"{session.directory}/{scripts.LOG_NAME}"
    user = session.user.unix_user
    try:
        size = files.size(user, path)
        if not size:
            return ""
        data = files.read_range(user, path, max(0, size - max_bytes), min(size, max_bytes))
    except (AdapterError, ValueError):
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def apply(session: Session, info: dict, backend) -> bool:
    """Copy Slurm's view of the job onto the row. True when the portal state changed."""
    before = session.state
    slurm_state = info.get("state") or "unknown"
    session.slurm_state = slurm_state
    session.reason = (str(info.get("reason"))[:255] if info.get("reason") else None)
    nodes = ",".join(info.get("nodes") or [])
    if nodes:
        session.nodes = nodes[:255]
    if slurm_state in ("queued", "queued_held"):
        if session.state != "deleting":
            session.state = "pending"
    elif slurm_state in ("running", "completing", "suspended"):
        session.started_at = session.started_at or naive_utc(info.get("start_time")) or db.utcnow()
        if session.state in ("pending", "starting", "submitting"):
            _connect(session, backend)
        if readystages.waiting_for_app(session):
            readystages.check_app(session)  # issue #17 item 5: once, then never again
    elif slurm_state != "unknown":
        _ended(session, info, backend)
    return session.state != before


def _connect(session: Session, backend) -> None:
    if conn.try_read(session, backend.files):
        session.state, session.ready_at, session.error = "running", db.utcnow(), None
    else:
        session.state = "starting"


def _ended(session: Session, info: dict, backend) -> None:
    state = info.get("state")
    session.ended_at = naive_utc(info.get("end_time")) or db.utcnow()
    session.exit_code = info.get("exit_code")
    failed = state in FAILED_SLURM and session.state != "deleting"
    if session.state == "deleting":
        session.hidden = True  # deleted: Slurm confirmed, so it leaves the list
    if failed:
        tail = log_tail(session, backend.files)
        session.error = tail or f"Slurm job {state} (exit code {session.exit_code})"
    session.state = "failed" if failed else "ended"
    session.token_enc = None  # nothing to reach any more


def open_sessions() -> list[Session]:
    return list(db.session.scalars(select(Session).where(Session.state.in_(OPEN))))


def sync_sessions(backend, snapshot_jobs: list[dict] | None, now: datetime | None = None) -> dict:
    """One pass over every open session (tracked.sync). Never raises for Slurm trouble."""
    if snapshot_jobs is None:
        return {}
    return tracked.sync(open_sessions(), backend, POLL, snapshot_jobs, now, log)


def _past_end(session: Session, backend, now: datetime) -> int:
    if session.end_at is None or session.end_at > now or session.state == "deleting":
        return 0
    try:
        backend.scheduler.delete(session.slurm_job_id, as_user=session.user.unix_user)
    except AdapterError as exc:
        log.warning("cannot end session %s at its end time: %s", session.id, exc.message)
        return 0
    session.state, session.delete_requested_at = "deleting", now
    audit.record("session.expire", f"session:{session.id}", actor=session.user, commit=False,
                 name=session.name, slurm_job_id=session.slurm_job_id)
    return 1


class _SessionPoll(tracked.Poll):
    """A session in the worker's sync: squeue's word is final (the exit code does not
    matter here) unless the job left squeue or is ending — sacct then has the final state
    (an scancel from a login node is CANCELLED there at once); a session past its chosen
    end time is cancelled; one nobody knows for LOST_AFTER has "ended". Never resubmitted
    behind the user's back: an unanswered submission fails only once Slurm can no longer
    process it (submission.is_settled, issue #13) and neither squeue nor sacct has its tag.
    """

    noun = "session"

    def tag(self, session: Session) -> str:
        return tag_of(session)

    def adopt(self, session: Session, info: dict, now: datetime, backend) -> None:
        session.slurm_job_id, session.error = info["id"], None
        session.submit_ended_at = None
        session.submitted_at = session.submitted_at or now
        session.state = "pending" if session.state == "submitting" else session.state
        apply(session, info, backend)

    def never_submitted(self, session: Session, now: datetime) -> None:
        session.state, session.ended_at = "failed", now
        session.error = ("The submission never reached Slurm (its controller did not "
                         "answer), so nothing runs. Create the session again.")

    def final_in_squeue(self, info: dict | None) -> bool:
        return info is not None and info.get("state") not in ("unknown", "completing")

    def from_squeue(self, session: Session, info: dict, backend, now: datetime) -> int:
        changed = int(apply(session, info, backend))
        if info.get("state") in ACTIVE_SLURM:
            changed += _past_end(session, backend, now)
        return changed

    def from_history(self, session: Session, info: dict | None, live: dict | None, backend,
                     now: datetime) -> int:
        if info is not None and info.get("state") not in ACTIVE_SLURM:
            return int(apply(session, info, backend))
        if info is None and tracked.unheard_of(session, now, LOST_AFTER):
            session.state, session.ended_at = "ended", now
            session.error = "Slurm has no record of this session's job"
            return 1
        return 0


POLL = _SessionPoll()


def look_up_now(session: Session | None, backend=None) -> bool:
    """Settle a session whose submitting process is gone now (tracked.look_up_now: adopt
    its Slurm job by its tag, or fail it when Slurm can no longer get it); called by the
    API when a retry takes an Idempotency-Key over (issue #13). Never submits."""
    if session is None or session.slurm_job_id or session.state != "submitting":
        return False
    return tracked.look_up_now(session, backend or core_backend.get_backend(), POLL)


def worker_step(scheduler, snapshot) -> dict:
    """The worker's session step for one cycle; {} when quiet. A failure is logged and
    rolled back, never raised (the other steps must still run)."""
    jobs = snapshot.data["jobs"] if snapshot.data else None
    try:
        result = sync_sessions(backend_for(scheduler), jobs)
    except Exception as exc:  # noqa: BLE001 - one step's trouble must not stop the worker
        log.exception("worker step sessions failed")
        db.session.rollback()
        result = {"error": str(exc)}
    return {"sessions": result} if result else {}
