"""Submitting to Slurm exactly once, with no database transaction open meanwhile (issue #13).

A job or session is submitted in three steps (jobs.launch, sessions.launch):

1. *plan*: everything that needs the database (image, limits, keys, approval) is worked
   out and the row is committed with its uuid tag and `submit_started_at` — so the tag is
   on record before Slurm can see it, and the transaction ends;
2. *run* (`attempt`): the files are written and sbatch runs with NOTHING open in the
   database, so a hung slurmctld holds no lock (SQLite's write lock once made every other
   request fail after its 5 s busy timeout);
3. *record*: the answer is written in a new short transaction.

When sbatch gets no answer (a timeout, "Socket timed out"), the job may exist or not, and
it may still come to exist: measured on the dev cluster (Slurm 22.05), an sbatch killed
after 4 s inside a frozen slurmctld, and one that gave up by itself after MessageTimeout
(10 s), were BOTH created when the controller woke 15 s later — 16 ms after SIGCONT, before
the first squeue answered. A look-up by tag made between the wake-up and the processing of
the queued request says "not there"; resubmitting then made one portal job two Slurm jobs.

So the portal never submits again automatically after an uncertain attempt. The row stays
"submitting" with `submit_ended_at`; the worker adopts the Slurm job carrying its tag as
soon as it shows, and only `is_settled()` — the controller has answered for SETTLE seconds
(default 60 = 6 × MessageTimeout, against 16 ms measured) since the attempt ended — lets it
conclude from squeue + sacct that the request will never be processed: a job is then
marked failed ("never reached Slurm") and the user may run it again; a schedule's run is
submitted again only then. The duplicate sweep (portal/services/duplicates.py) is the
second line: two live Slurm jobs with one tag, or one whose row gave up, are cancelled.
Adopting is safe at any time: while a row waits, the worker asks squeue and sacct for its
tag every cycle (`resolve`), so a job that already finished is adopted at once.

A process killed mid-create (its Idempotency-Key claim taken over by the client's retry,
portal/services/idempotency.py) ends its attempt with it: `owner_gone` records that end,
so the row is settled SETTLE after it, not SUBMIT_INFLIGHT_SECONDS later — and at once when
the process died before its attempt started (no `submit_started_at`: sbatch never ran).

An attempt that could not even connect (slurmctld not running: "connect failure") never
reached Slurm and is refused at once, like a rejection, with a 503 naming the outage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import func, select

from adapters.errors import (
    AdapterError,
    CommandNotFound,
    CommandTimeout,
    JobNotFound,
    SlurmRejected,
    SlurmUnreachable,
    never_sent,
)
from portal import db
from portal.models import ClusterSnapshot
from portal.services import ServiceError

log = logging.getLogger(__name__)


def _config(key: str, default: float) -> timedelta:
    value = current_app.config.get(key, default) if has_app_context() else default
    return timedelta(seconds=float(value))


def settle() -> timedelta:
    """How long the controller must have answered before an unanswered request is dead."""
    return _config("SUBMIT_SETTLE_SECONDS", 60.0)


def inflight() -> timedelta:
    """How long an attempt with no recorded end may still be running (its process died,
    or it is still writing files): after this, it is treated as having ended."""
    return _config("SUBMIT_INFLIGHT_SECONDS", 150.0)


@dataclass
class Attempt:
    """What one sbatch attempt gave: a Slurm id, no answer (`uncertain`), or a refusal
    (`refused`: Slurm said no, the files could not be written, or Slurm was never reached)."""

    slurm_id: str | None = None
    uncertain: AdapterError | None = None
    refused: BaseException | None = None
    files_written: bool = False


def attempt(row, write_files: Callable[[], None], scheduler, spec, *, as_user: str,
            tag: str) -> Attempt:
    """Commit `row` (its tag and `submit_started_at`), then write the files and run sbatch
    once with no database transaction open. Never raises for Slurm or file trouble."""
    row.submit_started_at, row.submit_ended_at = db.utcnow(), None
    db.session.commit()  # step 1 ends here: nothing is open while the commands run
    result = Attempt()
    try:
        write_files()
        result.files_written = True
        result.slurm_id = scheduler.submit_idempotent(spec, as_user=as_user, tag=tag)
    except CommandTimeout as exc:
        if result.files_written:
            result.uncertain = exc
        else:
            result.refused = exc  # a file write hung: sbatch never ran
    except SlurmUnreachable as exc:
        if never_sent(exc) or not result.files_written:
            result.refused = exc
        else:
            result.uncertain = exc
    except (SlurmRejected, JobNotFound, CommandNotFound, ServiceError, ValueError) as exc:
        result.refused = exc
    except AdapterError as exc:
        # sbatch exited 0 but printed no job id, or a file command failed.
        if result.files_written:
            result.uncertain = exc
        else:
            result.refused = exc
    return result


def reload(row) -> None:
    """Step 3 starts: re-read the row, so a delete (or the worker's verdict) made while
    the commands ran is seen instead of overwritten."""
    db.session.refresh(row)


def mark_uncertain(row, exc: AdapterError) -> None:
    """The attempt ended without an answer: say so on the row (committed by the caller)."""
    row.error = getattr(exc, "message", None) or str(exc)
    row.submit_ended_at = db.utcnow()


def command_timeout() -> timedelta:
    """How long one command may run before the portal kills it (COMMAND_TIMEOUT)."""
    return _config("COMMAND_TIMEOUT", 30.0)


def owner_gone(row, now: datetime) -> None:
    """The process that was submitting `row` is gone (killed: its Idempotency-Key claim
    was taken over), so its attempt has ended; record when (committed by the caller).

    Died before the attempt started (no `submit_started_at`, which is committed before any
    command): no sbatch ran and none will, the end is now and the row is settled at once.
    Died after: an orphaned sbatch may still be on its way (the dead process no longer
    kills it at its timeout), so the end is no earlier than the start plus COMMAND_TIMEOUT;
    the row is settled SETTLE after that, as after any unanswered sbatch (an orphan that
    outlives even that and then submits is cancelled by the duplicate sweep)."""
    if row.slurm_job_id is not None or row.state != "submitting" \
            or row.submit_ended_at is not None:
        return
    if row.submit_started_at is None:
        row.submit_ended_at = now
    else:
        row.submit_ended_at = max(now, row.submit_started_at + command_timeout())


def never_started(row) -> bool:
    """True when the row's submitting process ended before any attempt (`owner_gone`):
    no sbatch ever ran for it."""
    return row.submit_started_at is None and row.submit_ended_at is not None


def uncertain_since(row) -> datetime:
    """When the last attempt ended (or, with no recorded end, when it must have)."""
    if row.submit_ended_at is not None:
        return row.submit_ended_at
    return (row.submit_started_at or row.created_at) + inflight()


def is_settled(row, now: datetime) -> bool:
    """True when Slurm can no longer process the row's last unanswered sbatch request: the
    attempt has ended and the controller has been answering (a good cluster snapshot) for
    `settle()` since. The worker's snapshots are the evidence that it was awake."""
    if never_started(row):
        return True
    start = uncertain_since(row)
    if now < start:
        return False
    first_answer = db.session.scalar(
        select(func.min(ClusterSnapshot.taken_at))
        .where(ClusterSnapshot.data.is_not(None), ClusterSnapshot.taken_at >= start)
    )
    return first_answer is not None and now - first_answer >= settle()


def resolve(row, info: dict | None, lookup: Callable[[], dict | None], now: datetime, *,
            settled: bool | None = None):
    """The worker's verdict on a row recorded without a Slurm id.

    Returns ("adopt", info) when a Slurm job carries its tag, ("wait", None) while that
    may still change (or Slurm cannot be asked), ("gone", None) when `settled` and neither
    squeue nor sacct (`lookup`) knows the tag. Never submits anything. `settled=True`: the
    caller knows no sbatch ever ran for the row.

    `info` is squeue's word (the cycle's snapshot); a job that already left the queue is
    known only to sacct, so `lookup` is asked every time, not only once settled: adopting
    is safe at any time, only "gone" has to wait (else a finished job waited
    SUBMIT_INFLIGHT_SECONDS + SETTLE to be adopted).
    """
    if info is not None:
        return "adopt", info
    settled = settled if settled is not None else is_settled(row, now)
    try:
        info = lookup()
    except AdapterError as exc:
        log.warning("cannot look up %s by its tag: %s", row, exc.message)
        return "wait", None
    if info is not None:
        return "adopt", info
    return ("gone", None) if settled else ("wait", None)
