"""Idempotency keys (issue #13): a create sent twice with one key is done once.

A client whose POST ended in a connection error cannot know whether it was done (it
usually was: 5 of 5 in the issue's test). With an `Idempotency-Key` it sends the same
request again with the same key and gets the first answer back — status and body — instead
of a second job. The API (portal/api/idempotency.py) and the CLI (`--idempotency-key`,
portal/cli_common.py) share this table; keys are per user and kept IDEMPOTENCY_KEEP_HOURS.

`begin` claims the key in its own short transaction before the work starts. A create that
makes a Slurm job or session calls `attach` in the same transaction that records the row
(so even a process that dies right after that leaves the key pointing at it), and `finish`
stores the answer. Rules:

- same key, same request, answer stored: that answer again (`Replay`);
- same key, other request (method, path or body differ): 422 `idempotency_key_reused`;
- same key while the first request still runs: 409 `idempotency_in_progress`;
- a first request that died: its object if it made one, else the key is free again.
  "Died" is known at once when the claim's process (recorded on the claim: host, PID,
  start time; portal/services/procid.py) no longer exists on this host — a gunicorn
  worker SIGKILLed mid-create — and otherwise (a claim of another host) after
  SUBMIT_INFLIGHT_SECONDS. Taking over never submits twice: the object is recorded with
  its tag (and the key pointed at it) before sbatch runs, so a claim without an object
  never reached Slurm; a job still without a Slurm id is looked up by its tag at once
  (squeue, as the owner) and adopted if Slurm has it, else left to the worker, which
  adopts it or, once Slurm can no longer process the request, marks it failed. The
  takeover records that the dead request's attempt has ended (`submission.owner_gone`),
  so that verdict comes SUBMIT_SETTLE_SECONDS after it — at once when the request died
  before its sbatch started;
- a 5xx answer that made nothing (e.g. Slurm unreachable, nothing kept) is not stored, so
  the retry is tried again; a 5xx that made something (an unconfirmed sbatch: 503 with the
  job) is stored like any other answer.

Secrets in an answer (a generated private key, a new API token) are never stored: the
replay carries null in their place (they were shown once, as promised).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, g, has_app_context, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from portal import db
from portal.models import IdempotencyKey, Job, Schedule, Session
from portal.services import ServiceError, procid, submission

KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, like a UUID or a ULID
SECRET_FIELDS = frozenset({"private_key", "token", "password", "secret"})
RESOURCES = {"job": Job, "session": Session, "schedule": Schedule}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    """This request owns the key: do the work, then `finish`."""

    id: int


@dataclass(frozen=True)
class Replay:
    """The key was used before: its stored answer, or (a first request that died after
    making something) only the object it made."""

    status: int | None
    body: str | None
    resource: str | None


def _keep() -> timedelta:
    hours = current_app.config.get("IDEMPOTENCY_KEEP_HOURS", 24) if has_app_context() else 24
    return timedelta(hours=float(hours))


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(f"{method} {path}\n".encode() + (body or b"")).hexdigest()


def begin(user, key: str, method: str, path: str, body: bytes, *,
          takeover: bool = False) -> Claim | Replay:
    """Claim `key` for this request (committed), or say what the first request gave.

    `takeover`: the caller knows the unfinished first request was its own and is over
    (the CLI's retry), so its claim is taken over at once. Raises ServiceError
    (invalid_idempotency_key 400, idempotency_key_reused 422, idempotency_in_progress 409).
    """
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise ServiceError(_l("An Idempotency-Key is 1 to 255 visible ASCII characters "
                              "(a UUID is a good one)."), "invalid_idempotency_key")
    now = db.utcnow()
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - _keep()))
    mark = fingerprint(method, path, body)
    row = db.session.scalar(select(IdempotencyKey).where(
        IdempotencyKey.user_id == user.id, IdempotencyKey.key == key))
    if row is not None:
        if (row.method, row.path, row.fingerprint) != (method, path[:255], mark):
            db.session.commit()
            raise ServiceError(
                _l("This Idempotency-Key was already used for a different request "
                   "(%(method)s %(path)s). Use a new key for a new request.",
                   method=row.method, path=row.path), "idempotency_key_reused", 422)
        if row.status is not None:
            replay = Replay(row.status, row.response, row.resource)
            db.session.commit()
            return replay
        ended = takeover or procid.gone(row.owner_host, row.owner_pid, row.owner_started)
        if not ended and row.created_at > now - submission.inflight():
            db.session.commit()
            raise ServiceError(
                _l("The first request with this Idempotency-Key is still being processed; "
                   "ask again in a few seconds."), "idempotency_in_progress", 409)
        log.info("idempotency: key %s of user %s taken over from %s (pid %s)", row.id,
                 user.id, row.owner_host, row.owner_pid)
        made = load(row.resource)
        if made is not None:  # the first request died after making something
            replay = Replay(None, None, row.resource)
            if ended and isinstance(made, Job | Session):  # its attempt ended with it
                submission.owner_gone(made, now)
            db.session.commit()
            return replay  # the API looks its job up by tag first (jobsync.look_up_now)
        db.session.delete(row)  # it died before making anything: the key is free again
        db.session.flush()  # before the new claim's INSERT (the unit of work inserts first)
    holder = procid.current()
    row = IdempotencyKey(user_id=user.id, key=key, method=method, path=path[:255],
                         fingerprint=mark, created_at=now,
                         owner_host=holder.host if holder else None,
                         owner_pid=holder.pid if holder else None,
                         owner_started=holder.started if holder else None)
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:  # the same key, sent twice at once: the other one runs
        db.session.rollback()
        raise ServiceError(
            _l("The first request with this Idempotency-Key is still being processed; "
               "ask again in a few seconds."), "idempotency_in_progress", 409) from None
    if has_request_context():
        g.idempotency_claim = row.id
    return Claim(row.id)


def attach(kind: str, obj_id: int) -> None:
    """Point the claimed key (if any) at the object just recorded, in the caller's
    transaction: key and object are committed together or not at all."""
    if not has_request_context():
        return
    claim = g.get("idempotency_claim")
    if claim is not None:
        db.session.execute(update(IdempotencyKey).where(IdempotencyKey.id == claim)
                           .values(resource=f"{kind}:{obj_id}")
                           .execution_options(synchronize_session=False))


def finish(claim_id: int, status: int, body: str) -> None:
    """Store the answer of the claimed request (commits). A 5xx answer whose request made
    nothing frees the key instead, so that a retry runs again."""
    db.session.rollback()  # whatever the request left unfinished is not part of its answer
    row = db.session.get(IdempotencyKey, claim_id)
    if row is None:
        return
    if status >= 500 and not _exists(row.resource):
        db.session.delete(row)
    else:
        row.status, row.response = status, without_secrets(body)
    db.session.commit()


def load(resource: str | None):
    """The object a key made ("job:12" -> the Job), or None."""
    if not resource or ":" not in resource:
        return None
    kind, _, ident = resource.partition(":")
    model = RESOURCES.get(kind)
    return db.session.get(model, int(ident)) if model and ident.isdigit() else None


def _exists(resource: str | None) -> bool:
    return load(resource) is not None


def without_secrets(body: str) -> str:
    """The JSON `body` with every secret field (at any depth) set to null."""
    try:
        data = json.loads(body) if body else None
    except ValueError:
        return body

    def scrub(value):
        if isinstance(value, dict):
            return {k: None if k in SECRET_FIELDS else scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        return value

    return json.dumps(scrub(data), ensure_ascii=False) if data is not None else body
