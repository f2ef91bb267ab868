"""Import of finished Slurm allocations into `accounting_records` (F11), once per worker cycle.

Incremental. The watermark is the newest `end_at` already imported; each run asks sacct
(as the operator, `--allusers`, terminal states only, see adapters.scheduler.accounting)
for allocations that ended from `watermark − ACCOUNTING_OVERLAP_MINUTES` (default 15) until
now. The overlap catches records slurmdbd stores late (it lags slurmctld by seconds, more
after an outage). Rows are upserted by Slurm job id (UNIQUE), so the overlap never
duplicates: a job already imported is skipped, or updated when sacct now says something
else (a requeued job's later run). With nothing imported yet the first run reaches back
`ACCOUNTING_HISTORY_DAYS` (default 400), in one sacct call; a call that exceeds the
runner's timeout (a busy cluster's first import) is retried as two half windows,
recursively, down to an hour.

`service` comes from the portal's `--comment` tag: `portal-session-<uuid>` → "session",
`portal-job-<uuid>` → "job", or "schedule" when that job belongs to a schedule; anything
else was submitted around the portal → "shell".

Failures (slurmdbd down, timeout) leave the table as it was and are reported in the
worker's summary; the next cycle catches up from the same watermark.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, insert, select, update

from adapters import factory
from adapters.errors import AdapterError, CommandTimeout
from adapters.factory import AccountingRow, SlurmAccounting
from portal import db
from portal.models import AccountingRecord, Job
from portal.services.approvals import project_account

log = logging.getLogger(__name__)

SESSION_TAG = "portal-session-"
JOB_TAG = "portal-job-"
CHUNK = 500
DEFAULT_OVERLAP_MINUTES = 15
DEFAULT_HISTORY_DAYS = 400
MIN_SPLIT = timedelta(hours=1)
# Columns an upsert compares and updates.
_UPDATED = ("user", "account", "partition", "qos", "state", "submit_at", "start_at", "end_at",
            "elapsed_s", "alloc_cpus", "alloc_mem_mb", "alloc_gpus", "gpu_model", "billing",
            "comment", "service")


def _config(name: str, default: float) -> float:
    try:
        value = float(current_app.config.get(name) or default)
    except (TypeError, ValueError):
        value = default
    return max(value, 0.0)


def watermark() -> datetime | None:
    """The newest end time imported so far (naive UTC), or None."""
    return db.session.scalar(select(func.max(AccountingRecord.end_at)))


def window_start(now: datetime | None = None) -> datetime:
    """Where the next sacct query starts: watermark − overlap, or the history horizon."""
    now = now or db.utcnow()
    mark = watermark()
    if mark is None:
        return now - timedelta(days=_config("ACCOUNTING_HISTORY_DAYS", DEFAULT_HISTORY_DAYS))
    overlap = timedelta(minutes=_config("ACCOUNTING_OVERLAP_MINUTES", DEFAULT_OVERLAP_MINUTES))
    return min(mark, now) - overlap


def import_new(scheduler=None, *, source: SlurmAccounting | None = None,
               now: datetime | None = None) -> int:
    """Import allocations that ended since the watermark; return how many rows were added
    or changed. Raises AdapterError when sacct cannot be asked (nothing changed)."""
    if source is None:
        if scheduler is None:
            scheduler = factory.make_scheduler(current_app.config)
        source = factory.make_accounting(scheduler, current_app.config)
    now = now or db.utcnow()
    return _import_window(source, window_start(now), None, now)


def _import_window(source, start: datetime, until: datetime | None, now: datetime) -> int:
    """Import what ended in [start, until or now]; a window sacct cannot answer within the
    runner's timeout (a first import of a busy cluster) is split in halves, down to
    MIN_SPLIT, so the import still gets through (and the watermark moves on)."""
    try:
        rows, problems = source.finished(start, until)
    except CommandTimeout:
        stop = until or now
        if stop - start <= MIN_SPLIT:
            raise
        middle = start + (stop - start) / 2
        log.info("sacct timed out for %s..%s: splitting the window", start, stop)
        return (_import_window(source, start, middle, now)
                + _import_window(source, middle, until, now))
    for problem in problems:
        log.warning("sacct: skipped an unreadable record: %s", problem)
    return store(rows)


def store(rows: Iterable[AccountingRow]) -> int:
    """Upsert `rows` by job id, in chunks, committing each; returns rows added or changed."""
    rows = list({row.job_id: row for row in rows}.values())  # the last line of an id wins
    changed = 0
    for at in range(0, len(rows), CHUNK):
        chunk = rows[at:at + CHUNK]
        values = [_values(row) for row in chunk]
        _set_services(values)
        ids = [v["job_id"] for v in values]
        existing = {
            r.job_id: r for r in db.session.execute(
                select(AccountingRecord.id, *(getattr(AccountingRecord, c) for c in
                                              ("job_id", *_UPDATED)))
                .where(AccountingRecord.job_id.in_(ids)))
        }
        new = [v for v in values if v["job_id"] not in existing]
        if new:
            now = db.utcnow()
            db.session.execute(insert(AccountingRecord), [{**v, "imported_at": now} for v in new])
        for v in values:
            old = existing.get(v["job_id"])
            if old is not None and any(getattr(old, c) != v[c] for c in _UPDATED):
                db.session.execute(update(AccountingRecord)
                                   .where(AccountingRecord.id == old.id)
                                   .values({c: v[c] for c in _UPDATED}))
                changed += 1
        changed += len(new)
        db.session.commit()
    return changed


def _values(row: AccountingRow) -> dict:
    return {
        # An approved over-threshold job runs in <account>_approved: it is the project's.
        "job_id": row.job_id, "user": row.user, "account": project_account(row.account),
        "partition": row.partition, "qos": row.qos, "state": row.state,
        "submit_at": row.submit_at, "start_at": row.start_at, "end_at": row.end_at,
        "elapsed_s": row.elapsed_s, "alloc_cpus": row.tres.cpus,
        "alloc_mem_mb": row.tres.mem_mb, "alloc_gpus": row.tres.gpus,
        "gpu_model": row.tres.gpu_model, "billing": row.tres.billing,
        "comment": row.comment, "service": "shell",
    }


def service_of(comment: str, scheduled_uuids: set[str] | frozenset = frozenset()) -> str:
    """The service a job's comment tag names ("session", "job", "schedule", "shell")."""
    comment = (comment or "").strip()
    if comment.startswith(SESSION_TAG) and len(comment) > len(SESSION_TAG):
        return "session"
    if comment.startswith(JOB_TAG) and len(comment) > len(JOB_TAG):
        return "schedule" if comment[len(JOB_TAG):] in scheduled_uuids else "job"
    return "shell"


def _set_services(values: list[dict]) -> None:
    """Fill `service` for a chunk, with one query for the jobs that belong to schedules."""
    job_uuids = {v["comment"][len(JOB_TAG):] for v in values
                 if v["comment"].startswith(JOB_TAG)}
    scheduled: set[str] = set()
    if job_uuids:
        scheduled = set(db.session.scalars(
            select(Job.uuid).where(Job.uuid.in_(job_uuids), Job.schedule_id.is_not(None))))
    for v in values:
        v["service"] = service_of(v["comment"], scheduled)


def worker_step(scheduler) -> dict:
    """The worker's step: import, then the billing-weights check; never raises for Slurm."""
    from portal.services import prices

    try:
        summary = {"accounting_imported": import_new(scheduler), "accounting_error": None}
    except AdapterError as exc:
        db.session.rollback()
        log.warning("accounting import failed: %s", exc.message)
        summary = {"accounting_imported": 0, "accounting_error": exc.message}
    summary.update(prices.worker_step())  # Slurm's billing weights follow the prices
    return summary


__all__ = ["import_new", "store", "service_of", "watermark", "window_start", "worker_step"]
