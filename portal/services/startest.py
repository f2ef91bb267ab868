"""When would Slurm start it? The create forms' estimated start (issue #17, item 4).

Slurm answers that with `sbatch --test-only` run as the user (their associations, limits and
the queue as it is now; nothing is submitted). That is a Slurm command, so it never runs on
a page's path: the form's estimate (portal/services/estimate.py) only records the question
in start_estimates — one row per user and request shape (account, partition, GPUs, CPUs,
memory, time limit) — and shows the latest answer; the worker's `start_estimates` step
answers the questions asked in the last minutes, newest first, a few per cycle. The form
asks again while an answer is on its way (static/js/estimate.js).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError

from adapters.errors import AdapterError, SlurmRejected
from adapters.scheduler import JobSpec
from portal import db
from portal.models import StartEstimate, User

log = logging.getLogger(__name__)

FRESH = timedelta(seconds=60)  # an answer younger than this is shown as it is
ASKED_WITHIN = timedelta(minutes=10)  # older questions are nobody's any more
KEEP = timedelta(days=1)
PER_CYCLE = 5
SCRIPT = "#!/bin/sh\ntrue\n"


def spec_of(account: str, partition: str | None, gpu_model: str | None, gpu_count: int,
            cpus: int, mem_gb: int, minutes: int | None, nodes: int = 1) -> dict:
    gres = (f"gpu:{gpu_model}:{gpu_count}" if gpu_model else f"gpu:{gpu_count}") \
        if gpu_count else None
    spec = {"account": account, "partition": partition, "gres": gres, "cpus": int(cpus),
            "mem_mb": int(mem_gb) * 1024, "time": int(minutes) if minutes else None}
    if nodes > 1:  # issue #15: per-node sizes on `nodes` nodes (one-node specs unchanged)
        spec["nodes"] = int(nodes)
    return spec


def _signature(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def lookup(user, spec: dict, now: datetime | None = None) -> dict:
    """The latest answer for this request, asking the worker for a new one when there is
    none or it is older than FRESH. Returns {"state": "pending"|"known"|"refused",
    "start_at", "checked_at", "error"}. Writes one row at most; never calls Slurm."""
    now = now or db.utcnow()
    signature = _signature(spec)
    row = db.session.scalar(select(StartEstimate).where(
        StartEstimate.user_id == user.id, StartEstimate.signature == signature))
    if row is None:
        row = StartEstimate(user_id=user.id, signature=signature, spec=spec, requested_at=now)
        db.session.add(row)
    elif (row.computed_at is None or row.computed_at < now - FRESH) \
            and row.requested_at < now - timedelta(seconds=5):
        row.requested_at = now  # ask again (a few seconds apart at most)
    answer = {"state": "pending", "start_at": row.start_at, "checked_at": row.computed_at,
              "error": row.error}
    if row.computed_at is not None:
        answer["state"] = "refused" if row.error else "known"
        answer["fresh"] = row.computed_at >= now - FRESH
    try:
        db.session.commit()
    except IntegrityError:  # the same question from another tab at the same moment
        db.session.rollback()
    return answer


def line(answer: dict, now: datetime | None = None) -> tuple[str, str]:
    """(level, sentence) for the form."""
    now = now or db.utcnow()
    if answer["state"] == "pending":
        return "info", str(_l("Asking Slurm when it would start this…"))
    checked = max(0, int((now - answer["checked_at"]).total_seconds()))
    if answer["state"] == "refused":
        return "warning", str(_l("Slurm would not start this as it is: %(error)s (checked "
                                 "%(s)s s ago).", error=answer["error"], s=checked))
    start = answer["start_at"]
    if start <= answer["checked_at"] + timedelta(minutes=1):
        return "info", str(_l("Slurm would start this at once (checked %(s)s s ago).",
                              s=checked))
    return "info", str(_l("Slurm expects to start this at %(when)s UTC, in about %(wait)s "
                          "(checked %(s)s s ago); the queue can change that.",
                          when=start.strftime("%Y-%m-%d %H:%M"),
                          wait=_wait_words(start - now), s=checked))


def _wait_words(delta: timedelta) -> str:
    from portal.services.jobspec import time_limit_words

    return time_limit_words(max(1, int(delta.total_seconds() // 60)))


def worker_step(scheduler, now: datetime | None = None) -> dict:
    """Answer the newest open questions with `sbatch --test-only` as their users. No
    transaction stays open while sbatch runs."""
    now = now or db.utcnow()
    db.session.execute(delete(StartEstimate).where(StartEstimate.requested_at < now - KEEP))
    rows = db.session.execute(
        select(StartEstimate.id, StartEstimate.spec, User.unix_user)
        .join(User, User.id == StartEstimate.user_id)
        .where(StartEstimate.requested_at >= now - ASKED_WITHIN,
               or_(StartEstimate.computed_at.is_(None),
                   StartEstimate.computed_at < StartEstimate.requested_at))
        .order_by(StartEstimate.requested_at.desc()).limit(PER_CYCLE)).all()
    db.session.commit()
    done, failed = 0, 0
    for row_id, spec, unix_user in rows:
        start, error = None, None
        try:
            if not unix_user:
                raise SlurmRejected("no Unix account", [], "")
            job = JobSpec(script=SCRIPT, account=spec["account"], partition=spec["partition"],
                          gres=spec["gres"], cpus=spec["cpus"], mem=spec["mem_mb"],
                          time=spec["time"], job_name="portal-start-estimate",
                          nodes=spec.get("nodes"),
                          ntasks_per_node=1 if spec.get("nodes") else None)
            start = scheduler.test_start(job, as_user=unix_user).astimezone(UTC) \
                .replace(tzinfo=None)
        except SlurmRejected as exc:
            error = (exc.message or "refused")[:500]
        except (AdapterError, ValueError) as exc:
            failed += 1
            log.warning("start estimate %s: %s", row_id, getattr(exc, "message", exc))
            continue  # Slurm did not answer: asked again next cycle
        estimate = db.session.get(StartEstimate, row_id)
        if estimate is not None:
            estimate.start_at, estimate.error = start, error
            estimate.computed_at = db.utcnow()
            db.session.commit()
            done += 1
    out = {"start_estimates": done} if done else {}
    if failed:
        out["start_estimates_failed"] = failed
    return out


def expected_start(slurm_job_id: str | None) -> datetime | None:
    """When Slurm expects a pending job to start (squeue's StartTime in the worker's last
    snapshot; UTC, naive), or None when it does not say. One snapshot read per request."""
    from flask import g, has_request_context

    from portal.services import cluster

    if not slurm_job_id:
        return None
    starts = g.get("expected_starts") if has_request_context() else None
    if starts is None:
        snapshot = cluster.last_good()
        starts = {}
        for job in (snapshot.data.get("jobs") or []) if snapshot is not None else []:
            value = job.get("start_time")
            if job.get("state") in ("queued", "queued_held") and value:
                try:
                    when = datetime.fromisoformat(value)
                except ValueError:
                    continue
                if when.tzinfo is not None:
                    when = when.astimezone(UTC).replace(tzinfo=None)
                starts[job.get("id")] = when
        if has_request_context():
            g.expected_starts = starts
    when = starts.get(str(slurm_job_id))
    return when if when is not None and when > db.utcnow() else None


def waiting_words(reason: str, slurm_job_id: str | None) -> str:
    """A pending job's reason in words, with the start Slurm expects when it has one."""
    when = expected_start(slurm_job_id)
    if when is None:
        return reason
    extra = str(_l("Slurm expects it to start at %(when)s UTC.",
                   when=when.strftime("%Y-%m-%d %H:%M")))
    return f"{reason} {extra}".strip()
