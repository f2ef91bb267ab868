"""The worker's duplicate sweep (issue #13): one portal job or session, at most one Slurm job.

The submission rules (portal/services/submission.py) never submit a tag twice while an
earlier request may still be processed. This step is the second line of defence, for
whatever slips past them (a rule broken by hand, a clock jump, a controller that answers
but keeps a request for minutes): in each cycle's squeue snapshot it looks for

- two or more live (not ended) Slurm jobs carrying one portal tag: the one the row
  recorded — else the first (lowest id), the one a row adopts — is kept, every other one
  is cancelled, pending ones before they ever start;
- a live Slurm job whose row has given up on it (a submission marked "never reached
  Slurm", or deleted while it was submitting): it is cancelled.

Only tags of rows in this portal's database are touched, so other portals (or tests)
sharing the cluster are left alone. Cancels run as the Slurm operator (the job's owner
did not ask for them) and each is recorded: an event on the job, and the operation log.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from adapters.errors import AdapterError
from portal import db
from portal.models import Job, Session
from portal.services import audit
from portal.services import jobs as jobsvc
from portal.services import sessions as sessionsvc
from portal.services.jobsync import id_key

log = logging.getLogger(__name__)

LIVE = ("queued", "queued_held", "running", "suspended", "requeued", "resizing")
KINDS = (
    # tag prefix, model, row states that still want their Slurm job
    (jobsvc.TAG_PREFIX, Job, jobsvc.ACTIVE),
    (sessionsvc.TAG_PREFIX, Session, sessionsvc.OPEN),
)


def sweep(backend, snapshot_jobs: list[dict] | None) -> dict:
    """One pass over the cycle's squeue snapshot; returns {"cancelled": n} or {}.

    Skipped when squeue did not answer. Never raises for Slurm trouble (a cancel that
    fails is logged and tried again next cycle).
    """
    if not snapshot_jobs:
        return {}
    cancelled = 0
    for prefix, model, wanting in KINDS:
        live: dict[str, list[dict]] = {}
        for info in snapshot_jobs:
            comment = info.get("comment") or ""
            if comment.startswith(prefix) and info.get("state") in LIVE:
                live.setdefault(comment[len(prefix):], []).append(info)
        if not live:
            continue
        rows = db.session.scalars(select(model).where(model.uuid.in_(list(live))))
        for row in rows:
            found = sorted(live[row.uuid], key=lambda i: id_key(i["id"]))
            keep = _keeper(row, found, wanting)
            for extra in found:
                if keep is None or extra["id"] != keep["id"]:
                    cancelled += _cancel(row, extra, keep, backend)
    if cancelled:
        db.session.commit()
    return {"cancelled": cancelled} if cancelled else {}


def _keeper(row, found: list[dict], wanting: tuple) -> dict | None:
    """The Slurm job that is this row's, or None when the row wants none of them."""
    if row.slurm_job_id is not None:  # the recorded one, live or not; any other is extra
        return next((i for i in found if i["id"] == row.slurm_job_id),
                    {"id": row.slurm_job_id})
    if row.state not in wanting:
        return None  # given up on (never reached Slurm), or deleted while submitting
    return found[0]  # the first one: the one the worker adopts


def _cancel(row, info: dict, keep: dict | None, backend) -> int:
    kind = "job" if isinstance(row, Job) else "session"
    try:
        backend.scheduler.operator_cancel(info["id"])
    except (AdapterError, NotImplementedError) as exc:
        log.warning("%s %s: cannot cancel duplicate Slurm job %s: %s", kind, row.id,
                    info["id"], getattr(exc, "message", exc))
        return 0
    what = "duplicate_cancelled" if keep is not None else "orphan_cancelled"
    log.warning("%s %s: cancelled Slurm job %s (%s, tag of this row; kept: %s)", kind,
                row.id, info["id"], info.get("state"), keep and keep["id"])
    if isinstance(row, Job):
        jobsvc.event(row, what, slurm_job_id=info["id"], state=info.get("state"),
                     kept=keep and keep["id"])
    audit.record(f"{kind}.{what}", f"{kind}:{row.id}", actor=None, commit=False,
                 slurm_job_id=info["id"], state=info.get("state"), kept=keep and keep["id"],
                 owner=row.user.username)
    return 1


def worker_step(cycle) -> None:
    """The worker's step (portal/worker.py STEPS): after the job and session steps, on the
    same snapshot; says how many it cancelled in the cycle's summary."""
    if result := sweep(cycle.backend, cycle.jobs):
        cycle.summary["duplicates"] = result
