"""A tracked Slurm job: the one lifecycle that batch jobs, sessions and scheduled runs share.

Like JupyterHub's Spawner (start, poll, stop) but for a row the portal keeps: a job or a
session is *prepared* (its spec and files worked out from the database), *submitted* once
with its tag as the --comment (portal/services/submission.py: no transaction open while
sbatch runs), *adopted* by that tag when the answer was lost, *polled* from the worker's
squeue snapshot and then sacct, and *cancelled* with the owner's scancel. What differs
between the kinds — states, events, the words a user reads — is given by two small hook
objects: `Launch` (jobs.py, sessions.py) for submitting, `Poll` (jobsync.py,
sessionsync.py) for the worker's sync. Scheduled runs are jobs: schedrun.py submits them
through jobs.launch and settles a lost answer with `verdict`.

Invariants kept here for every kind (issue #13): never submit twice (an unanswered sbatch
is adopted by tag, or given up only once `submission.is_settled`), never hold a database
transaction while a Slurm command runs, and "unknown" is never read as "gone".
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from adapters.errors import (
    AdapterError,
    CommandTimeout,
    JobNotFound,
    SlurmRejected,
    SlurmUnreachable,
)
from portal import db
from portal.services import ServiceError, cluster, outage, submission

log = logging.getLogger(__name__)

TAG_PREFIX = "portal-"  # every kind's tag starts with it (core/states.py)


# -- prepare and submit ---------------------------------------------------------------------

class Launch:
    """What a launch does to one kind of row; jobs and sessions subclass it.

    `plan` returns the (approval-gated) spec and a `write(backend)` that writes the files
    as the owner; it must run no command (the row's transaction is still open).
    """

    noun = "job"

    def tag(self, row) -> str:
        raise NotImplementedError

    def plan(self, row) -> tuple:
        raise NotImplementedError

    def uncertain(self, row) -> None:
        """sbatch got no answer (the row stays "submitting"); e.g. record an event."""

    def deleted_meanwhile(self, row) -> bool:
        """Whether the owner deleted the row while sbatch ran (seen after the reload)."""
        raise NotImplementedError

    def submitted(self, row) -> None:
        """Slurm accepted it: the row already has its id and "pending"; e.g. an event."""

    def keep_rejected(self, row, message: str) -> None:
        """Keep a refused row (as "failed") instead of deleting it."""
        raise NotImplementedError

    def cancel(self, row, backend) -> None:
        """scancel what sbatch made for a row deleted meanwhile. Raises ServiceError."""
        raise NotImplementedError

    # What the user reads when nothing was submitted (lazy strings, per kind).
    def retry_later(self):
        raise NotImplementedError

    def refused(self, message: str):
        raise NotImplementedError

    def unprepared(self, message: str) -> ServiceError:
        raise NotImplementedError


def launch(row, backend, kind: Launch, *, keep_rejected: bool = False):
    """Prepare and submit `row` exactly once, in the three steps of submission.py: plan
    and commit (the tag is on record first), write the files and run sbatch with no
    transaction open, record the answer in a new transaction.

    On refusal the row is deleted (or kept as "failed" with `keep_rejected`) and
    ServiceError raised: "slurm_rejected" with Slurm's words, or a 503 naming the outage
    when Slurm could not be reached at all. When Slurm did not answer the row stays
    "submitting" with `error` and `submit_ended_at` set, for the worker to adopt by its tag
    (`recover`) or, once Slurm can no longer process the request, to give up on.
    """
    unix_user = row.user.unix_user
    try:
        with db.session.no_autoflush:  # reads only: no write lock while images are checked
            spec, write = kind.plan(row)
    except (ServiceError, AdapterError, ValueError) as exc:
        reject(row, backend, kind, exc, keep_rejected, unix_user, files_written=False)
    result = submission.attempt(row, lambda: write(backend), backend.scheduler, spec,
                                as_user=unix_user, tag=kind.tag(row))
    submission.reload(row)
    if result.uncertain is not None:
        if row.slurm_job_id is None:
            submission.mark_uncertain(row, result.uncertain)
            kind.uncertain(row)
        db.session.commit()
        return row
    if result.refused is not None:
        reject(row, backend, kind, result.refused, keep_rejected, unix_user,
               files_written=result.files_written)
    deleted_meanwhile = kind.deleted_meanwhile(row)
    row.slurm_job_id, row.error, row.submit_ended_at = result.slurm_id, None, None
    row.state, row.submitted_at = "pending", db.utcnow()
    kind.submitted(row)
    db.session.commit()
    if deleted_meanwhile:  # the owner deleted it while sbatch ran: cancel what sbatch made
        try:
            kind.cancel(row, backend)
            db.session.commit()
        except ServiceError as exc:
            log.warning("%s %s was deleted while submitting; cancel failed: %s", kind.noun,
                        row.id, exc.message)
    return row


def reject(row, backend, kind: Launch, exc: BaseException, keep: bool, unix_user,
           files_written: bool = True):
    """Nothing reached Slurm (or Slurm said no): keep the row as "failed" or delete it, then
    remove its files (a command: after the commit) and raise the ServiceError."""
    message = getattr(exc, "message", None) or str(exc)
    if keep:
        kind.keep_rejected(row, str(message))
        db.session.commit()
    else:
        directory = row.directory
        db.session.delete(row)
        db.session.commit()
        if files_written and directory and unix_user:
            try:
                backend.files.remove_tree(unix_user, directory)
            except (AdapterError, ValueError):
                pass  # nothing to clean, or not ours to clean
    if isinstance(exc, ServiceError):
        raise exc
    if isinstance(exc, SlurmUnreachable | CommandTimeout) and files_written:
        raise outage.unavailable(exc, kind.retry_later()) from None
    if isinstance(exc, SlurmRejected):
        raise ServiceError(kind.refused(message), "slurm_rejected")
    raise kind.unprepared(message)


def uncertain(row) -> bool:
    """True when the row's sbatch got no answer and the worker has not resolved it yet."""
    return row.state == "submitting" and row.slurm_job_id is None and bool(row.error)


# -- find by tag and adopt ------------------------------------------------------------------

def find_by_tag(row, tag: str, backend) -> dict | None:
    """The Slurm job carrying `tag`, live or finished, as a plain dict, or None.

    Asks squeue, then sacct since the row was recorded. Raises AdapterError when either
    cannot answer (then nobody may resubmit: the job may exist).
    """
    user = row.user.unix_user
    found = backend.scheduler.find_by_comment(tag, user=user)
    if found is None:
        since = row.created_at.replace(tzinfo=UTC) - timedelta(minutes=1)
        past = backend.scheduler.history(since=since, user=user)
        found = next((j for j in past if j.comment == tag), None)
    return cluster._plain(found) if found is not None else None


def verdict(row, tag: str, info: dict | None, backend, now: datetime, *,
            settled: bool | None = None):
    """submission.resolve for a row recorded without a Slurm id, looking it up by `tag`:
    ("adopt", info), ("wait", None) or ("gone", None). Never submits anything."""
    return submission.resolve(row, info, lambda: find_by_tag(row, tag, backend), now,
                              settled=settled)


class Poll:
    """What the worker's sync does to one kind of row; jobs and sessions subclass it."""

    noun = "job"

    def tag(self, row) -> str:
        raise NotImplementedError

    def wait_for_scheduler(self, row, info: dict | None) -> bool:
        """True to leave a row without a Slurm id to someone else this cycle."""
        return False

    def adopt(self, row, info: dict, now: datetime, backend) -> None:
        raise NotImplementedError

    def never_submitted(self, row, now: datetime) -> None:
        raise NotImplementedError

    def final_in_squeue(self, info: dict | None) -> bool:
        """Whether squeue's word is enough (else sacct is asked)."""
        raise NotImplementedError

    def from_squeue(self, row, info: dict, backend, now: datetime) -> int:
        raise NotImplementedError

    def from_history(self, row, info: dict | None, live: dict | None, backend,
                     now: datetime) -> int:
        """sacct's record (or None: it has none) of a row squeue no longer settles."""
        raise NotImplementedError

    def settle(self, backend, pending: list, now: datetime, logger: logging.Logger = log) -> int:
        """The rows squeue did not settle, [(row, squeue's info or None)], from one sacct
        call (`from_history` for each); nothing changes when sacct cannot answer."""
        found = history_by_id(backend, [r.slurm_job_id for r, _ in pending], self.noun, logger)
        if found is None:
            return 0
        return sum(self.from_history(row, found.get(row.slurm_job_id), live, backend, now)
                   for row, live in pending)


def recover(row, info: dict | None, backend, kind: Poll, now: datetime) -> int:
    """A row recorded but not known to be submitted: adopt it by its tag, or — only once
    Slurm can no longer process its sbatch request (submission.is_settled) and neither
    squeue nor sacct knows the tag — give up on it. Never resubmitted here (issue #13: a
    resubmission after a lost answer made one job two). Returns 1 when the row changed."""
    if kind.wait_for_scheduler(row, info):
        return 0
    result, info = verdict(row, kind.tag(row), info, backend, now)
    if result == "adopt":
        kind.adopt(row, info, now, backend)
        return 1
    if result == "gone":
        kind.never_submitted(row, now)
        return 1
    return 0


def look_up_now(row, backend, kind: Poll) -> bool:
    """A row recorded without a Slurm id whose submitting process is gone (an API retry
    took its Idempotency-Key over, issue #13): the worker's verdict now instead of at its
    next cycle — adopt what Slurm has under the row's tag, or, when Slurm can no longer
    get it (its process died before any sbatch: submission.owner_gone), give up on it.
    Never submits; while Slurm may still get it, or cannot answer, the worker decides as
    always (`recover`). Nothing is open in the database while squeue/sacct run. Returns
    whether the row was settled here."""
    if row is None or row.slurm_job_id or row.state != "submitting":
        return False
    settled = submission.is_settled(row, db.utcnow())
    db.session.commit()
    result, info = verdict(row, kind.tag(row), None, backend, db.utcnow(), settled=settled)
    if result == "wait":
        return False
    db.session.refresh(row)
    if row.slurm_job_id is not None or row.state != "submitting":
        return False  # the worker was quicker
    if result == "adopt":
        kind.adopt(row, info, db.utcnow(), backend)
    else:
        kind.never_submitted(row, db.utcnow())
    db.session.commit()
    return True


# -- poll -----------------------------------------------------------------------------------

def id_key(slurm_id: str) -> tuple[int, str]:
    """Slurm ids in submission order ("99" before "100")."""
    head = "".join(ch for ch in str(slurm_id).split("_")[0] if ch.isdigit())
    return (int(head) if head else 0, str(slurm_id))


def index(snapshot_jobs: list[dict] | None) -> tuple[dict, dict]:
    """(by Slurm id, by portal tag) for the snapshot's job dicts. A tag maps to its first
    (lowest id) job: the one a row adopts; later ones are duplicates (duplicates.py)."""
    by_id, by_tag = {}, {}
    for info in snapshot_jobs or []:
        by_id[info["id"]] = info
        comment = info.get("comment") or ""
        if comment.startswith(TAG_PREFIX):
            known = by_tag.get(comment)
            if known is None or id_key(info["id"]) < id_key(known["id"]):
                by_tag[comment] = info
    return by_id, by_tag


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


def unheard_of(row, now: datetime, after: timedelta) -> bool:
    """Submitted longer than `after` ago (neither squeue nor sacct knowing it means lost)."""
    return (row.submitted_at or row.created_at) < now - after


def history_by_id(backend, slurm_ids: list, what: str, logger: logging.Logger) -> dict | None:
    """sacct's records of `slurm_ids` as plain dicts by Slurm id.

    None, after a warning on `logger`, when sacct fails: the caller then changes nothing
    (`what` names the rows in the warning). Raises nothing for Slurm trouble.
    """
    try:
        found = backend.scheduler.history(slurm_ids)
    except AdapterError as exc:
        logger.warning("sacct failed, %s states stay as they were: %s", what, exc.message)
        return None
    return {info.id: cluster._plain(info) for info in found}


def sync(rows: list, backend, kind: Poll, snapshot_jobs: list[dict] | None,
         now: datetime | None = None, logger: logging.Logger = log) -> dict:
    """One pass of the worker over `rows` (the kind's open rows). Rows without a Slurm id
    are recovered by tag; the others are settled from the cycle's squeue snapshot or, when
    squeue's word is not final, from one sacct call for all of them. Never raises for
    Slurm trouble; returns {"changed": n} or {} (also when squeue did not answer)."""
    if snapshot_jobs is None:
        return {}
    now = now or db.utcnow()
    by_id, by_tag = index(snapshot_jobs)
    changed, ask_history = 0, []
    # The rows' changes are written at the commit, after every command (squeue, sacct,
    # scancel, file reads): a flush in between would hold SQLite's write lock while they
    # run (issue #13).
    with db.session.no_autoflush:
        for row in rows:
            if row.slurm_job_id is None:
                changed += recover(row, by_tag.get(kind.tag(row)), backend, kind, now)
                continue
            info = by_id.get(row.slurm_job_id)
            if kind.final_in_squeue(info):
                changed += kind.from_squeue(row, info, backend, now)
            else:
                ask_history.append((row, info))
        if ask_history:
            changed += kind.settle(backend, ask_history, now, logger)
    db.session.commit()
    return {"changed": changed} if changed else {}


# -- cancel ---------------------------------------------------------------------------------

def scancel(row, backend, as_user: str) -> None:
    """scancel the row's Slurm job as `as_user`; a job Slurm no longer knows is fine.
    Raises ServiceError: Slurm's words, or a 503 naming the outage."""
    try:
        backend.scheduler.delete(row.slurm_job_id, as_user=as_user)
    except JobNotFound:
        pass
    except SlurmRejected as exc:
        raise ServiceError(exc.message, "slurm_rejected") from None
    except AdapterError as exc:
        raise outage.unavailable(exc) from None

