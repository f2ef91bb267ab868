"""Idle reclaim that looks at real use (issue #17, item 2).

A running session is idle when the portal has seen no use of it — no request through its
proxy (`/s/<id>/`, the gateway's or the app's), no web-terminal input, no SSH connection
(counted by the session's sampler) — *and*, where it holds GPUs, their mean utilisation
from the sampler (`nvidia-smi`, portal/services/monitoring.py) stayed under the project's
threshold. CPU-only sessions are judged by activity alone. The idle clock starts at the
latest of: the session's start, the last activity, the last GPU-busy sample, the last Keep.

Per project, admins set the policy (`IdlePolicy`; off by default): the limit, the warning
points and the GPU threshold. At each warning point the owner gets the `idle_warning`
notification and a banner on the session page with a **Keep** button; Keep resets the
clock once per idle period (the next Keep needs real use in between), audited. At the
limit the worker cancels the job through the adapters (scancel as the owner, like a
session's chosen end), audited, and tells the owner.

Why activity is written coarsely: `touch` runs on request paths (the gateway's authorize
call, the terminal), so it writes at most once per ACTIVITY_EVERY seconds per session and
process (an in-process memo), never once per request. A GPU session whose node gives no
GPU telemetry is never reclaimed (its use is unknown) unless IDLE_GPU_UNKNOWN_IS_IDLE.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update

from adapters.errors import AdapterError
from portal import db
from portal.models import IdlePolicy, Project, Session, SessionIdle, SessionMetric, User
from portal.services import Forbidden, NotFound, ServiceError, audit

log = logging.getLogger(__name__)

ACTIVITY_EVERY = 60.0  # seconds: at most one activity write per session and process
KINDS = ("proxy", "terminal", "ssh")
MAX_LIMIT_S = 30 * 24 * 3600
_memo: dict[tuple[int, int], float] = {}
_memo_lock = threading.Lock()


def _cfg(name: str, default):
    try:
        value = current_app.config.get(name)
    except RuntimeError:  # outside an app context (unit tests of the pure parts)
        return default
    return default if value is None else value


# -- activity ----------------------------------------------------------------------------


def touch(session_id: int, kind: str = "proxy", now: datetime | None = None) -> bool:
    """Record that the session was used. Coarse: returns False (and writes nothing) when
    this process wrote for the session less than ACTIVITY_EVERY seconds ago. Never raises:
    a failed write must not fail the user's request."""
    every = float(_cfg("IDLE_ACTIVITY_EVERY", ACTIVITY_EVERY))
    engine = db.session.get_bind()
    memo_key = (id(engine), session_id)
    mono = time.monotonic()
    with _memo_lock:
        last = _memo.get(memo_key)
        if last is not None and mono - last < every:
            return False
        _memo[memo_key] = mono
        if len(_memo) > 10000:
            _memo.clear()
    now = now or db.utcnow()
    try:
        with engine.begin() as conn:  # its own short transaction, not the request's
            done = conn.execute(update(SessionIdle).where(SessionIdle.session_id == session_id)
                                .values(last_activity_at=now, last_activity_kind=kind))
            if done.rowcount == 0:
                conn.execute(SessionIdle.__table__.insert().values(
                    session_id=session_id, last_activity_at=now, last_activity_kind=kind,
                    warned=[]))
        return True
    except Exception:  # noqa: BLE001 - e.g. a race on the insert, a locked database
        log.warning("idle: recording activity of session %s failed", session_id,
                    exc_info=True)
        with _memo_lock:
            _memo.pop(memo_key, None)
        return False


def note_activity(session_id: int, kind: str, at: datetime) -> bool:
    """Record use the worker saw (SSH logins counted by the session's sampler), inside the
    caller's transaction (the worker commits per session; a second connection here would
    wait for the worker's own write lock on SQLite). Only moves the activity forward;
    returns whether it did."""
    # one conditional UPDATE: a newer touch() committed meanwhile by the app is never
    # overwritten with this older time
    done = db.session.execute(
        update(SessionIdle).where(SessionIdle.session_id == session_id,
                                  or_(SessionIdle.last_activity_at.is_(None),
                                      SessionIdle.last_activity_at < at))
        .values(last_activity_at=at, last_activity_kind=kind)
        .execution_options(synchronize_session="fetch"))
    if done.rowcount:
        return True
    if db.session.get(SessionIdle, session_id) is not None:
        return False
    db.session.add(SessionIdle(session_id=session_id, last_activity_at=at,
                               last_activity_kind=kind, warned=[]))
    return True


def forget_memo() -> None:
    """Tests: make the next touch write."""
    with _memo_lock:
        _memo.clear()


# -- the decision (pure) -----------------------------------------------------------------


@dataclass
class Decision:
    """What the idle clock says now. action: "none" | "warn" | "end"."""

    idle_since: datetime | None
    idle_s: float = 0.0
    action: str = "none"
    point: int | None = None  # the warning point being sent (seconds)
    warned: list = field(default_factory=list)  # points sent in this period, after this one
    unknown_gpu: bool = False


def decide(now: datetime, *, started_at: datetime | None, last_activity: datetime | None,
           kept_at: datetime | None, gpu_busy_until: datetime | None, gpu_known: bool,
           has_gpus: bool, limit_s: int, warn_s: list, warned: list,
           period_start: datetime | None, unknown_is_idle: bool = False) -> Decision:
    """The idle decision for one session, from what was recorded (no I/O).

    Idle since = the latest of start, activity, Keep and (GPU sessions) the end of the last
    sample at or above the threshold. Warnings already sent belong to the period that
    started at `period_start`; a new period (any of those moved) starts with none sent.
    Only the highest crossed, unsent point is sent (a worker that was down does not send
    three at once); at the limit the action is "end"."""
    if has_gpus and not gpu_known and not unknown_is_idle:
        return Decision(None, unknown_gpu=True)
    marks = [t for t in (started_at, last_activity, kept_at) if t is not None]
    if has_gpus and gpu_busy_until is not None:
        marks.append(gpu_busy_until)
    since = max(marks) if marks else now
    idle_s = max(0.0, (now - since).total_seconds())
    sent = list(warned or []) if period_start == since else []
    if not limit_s or limit_s <= 0:
        return Decision(since, idle_s, warned=sent)
    if idle_s >= limit_s:
        return Decision(since, idle_s, "end", warned=sent)
    crossed = [p for p in sorted(int(p) for p in warn_s or []) if p <= idle_s and p < limit_s]
    fresh = [p for p in crossed if p not in sent]
    if fresh:
        return Decision(since, idle_s, "warn", fresh[-1], sorted(set(sent) | set(crossed)))
    return Decision(since, idle_s, warned=sent)


def may_keep(kept_at: datetime | None, last_use: datetime | None) -> bool:
    """Keep once per idle period: allowed when never kept, or when the session was really
    used (activity or GPU load) after the last Keep."""
    return kept_at is None or (last_use is not None and last_use > kept_at)


# -- policy (admins) ---------------------------------------------------------------------


def policy_of(project_id: int) -> IdlePolicy | None:
    """The project's policy when it is on (a limit above 0), else None."""
    row = db.session.get(IdlePolicy, project_id)
    return row if row is not None and row.limit_s and row.limit_s > 0 else None


def clean_policy(limit_s, warn_s, gpu_threshold) -> tuple[int, list[int], float]:
    """Validate a policy (seconds). Raises ServiceError("invalid_idle_policy")."""
    def bad(message):
        return ServiceError(message, "invalid_idle_policy")

    try:
        limit = int(round(float(limit_s or 0)))
        points = sorted({int(round(float(p))) for p in (warn_s or [])})
        threshold = float(5.0 if gpu_threshold in (None, "") else gpu_threshold)
    except (TypeError, ValueError):
        raise bad(_l("The idle limit, the warning points and the GPU threshold are "
                     "numbers.")) from None
    if limit < 0 or limit > MAX_LIMIT_S:
        raise bad(_l("The idle limit is between 0 (off) and 30 days."))
    if any(p <= 0 or (limit and p >= limit) for p in points) or len(points) > 10:
        raise bad(_l("Warning points are at most 10 times after 0 and before the idle "
                     "limit."))
    if not 0 <= threshold <= 100:
        raise bad(_l("The GPU threshold is a percentage between 0 and 100."))
    return limit, points, threshold


def set_policy(actor, project_id: int, *, limit_s, warn_s, gpu_threshold=5.0) -> IdlePolicy:
    """Admin: set the project's idle policy (limit 0 switches it off). Audited; nothing
    changes on a bad value."""
    if not getattr(actor, "is_admin", False):
        raise Forbidden(_l("Only platform administrators set the idle policy."))
    project = db.session.get(Project, project_id)
    if project is None:
        raise NotFound(_l("No such project."))
    limit, points, threshold = clean_policy(limit_s, warn_s, gpu_threshold)
    row = db.session.get(IdlePolicy, project_id)
    if row is None:
        row = IdlePolicy(project_id=project_id)
        db.session.add(row)
    row.limit_s, row.warn_s, row.gpu_threshold = limit, points, threshold
    row.updated_at, row.updated_by_id = db.utcnow(), actor.id
    # the operator at a shell (root, no portal user) is named by the CLI's audit source
    audit.record("project.idle_policy", f"project:{project_id}",
                 actor=actor if getattr(actor, "id", None) else None, commit=False,
                 limit_s=limit, warn_s=points, gpu_threshold=threshold)
    db.session.commit()
    return row


def policy_view(project_id: int) -> dict:
    """A project's policy as the API and the CLI show it (enabled False: no reclaim)."""
    project = db.session.get(Project, project_id)
    if project is None:
        raise NotFound(_l("No such project."))
    row = db.session.get(IdlePolicy, project_id)
    by = db.session.get(User, row.updated_by_id) if row and row.updated_by_id else None
    return {"project_id": project.id, "account": project.account,
            "enabled": bool(row and row.limit_s and row.limit_s > 0),
            "limit_s": row.limit_s if row else 0, "warn_s": list(row.warn_s or []) if row else [],
            "gpu_threshold": row.gpu_threshold if row else 5.0,
            "updated_at": row.updated_at.isoformat() + "Z" if row and row.updated_at else None,
            "updated_by": by.username if by else None}


# -- one session's state -----------------------------------------------------------------


def gpu_use(session: Session, threshold: float) -> tuple[bool, datetime | None]:
    """(any GPU telemetry recorded?, end of the last bucket at or above the threshold)
    from the sampler's 10 s and 60 s buckets."""
    known = db.session.scalar(select(SessionMetric.id).where(
        SessionMetric.session_id == session.id, SessionMetric.gpu_util.is_not(None))
        .limit(1)) is not None
    busy = None
    for resolution in (10, 60):
        at = db.session.scalar(select(func.max(SessionMetric.at)).where(
            SessionMetric.session_id == session.id, SessionMetric.resolution == resolution,
            SessionMetric.gpu_util >= threshold))
        if at is not None:
            end = at + timedelta(seconds=resolution)
            busy = end if busy is None or end > busy else busy
    return known, busy


def _state(session: Session) -> SessionIdle:
    row = db.session.get(SessionIdle, session.id)
    if row is None:
        row = SessionIdle(session_id=session.id, warned=[])
        db.session.add(row)
    return row


def evaluate(session: Session, policy: IdlePolicy, now: datetime,
             row: SessionIdle | None = None) -> tuple[Decision, datetime | None]:
    """(the decision, the session's last real use) from the database."""
    row = row if row is not None else db.session.get(SessionIdle, session.id)
    has_gpus = bool(session.gpu_count)
    known, busy = gpu_use(session, policy.gpu_threshold) if has_gpus else (False, None)
    activity = row.last_activity_at if row else None
    decision = decide(
        now, started_at=session.started_at or session.ready_at, last_activity=activity,
        kept_at=row.kept_at if row else None, gpu_busy_until=busy, gpu_known=known,
        has_gpus=has_gpus, limit_s=policy.limit_s, warn_s=policy.warn_s or [],
        warned=row.warned if row else [], period_start=row.period_start if row else None,
        unknown_is_idle=bool(_cfg("IDLE_GPU_UNKNOWN_IS_IDLE", False)))
    uses = [t for t in (activity, busy if has_gpus else None) if t is not None]
    return decision, (max(uses) if uses else None)


def lost_changes_note(session: Session) -> str:
    """What ending the session does to its files, truthfully (README, writable sessions)."""
    if session.writable:
        return str(_l("Files in the workspace are kept. Changes to the container outside "
                      "the workspace (its writable layer) are removed when the session "
                      "ends: save them with Create custom image before."))
    return str(_l("Files in the workspace are kept; this session's container keeps no "
                  "other changes."))


def status(session: Session, now: datetime | None = None) -> dict | None:
    """For the session page: None when idle reclaim does not apply, else the banner's
    facts (idle for, ends at, warned?, may keep?)."""
    if session.state != "running":
        return None
    policy = policy_of(session.project_id)
    if policy is None:
        return None
    now = now or db.utcnow()
    row = db.session.get(SessionIdle, session.id)
    decision, last_use = evaluate(session, policy, now, row)
    if decision.idle_since is None:
        return {"unknown_gpu": True, "warned": False}
    first = min(policy.warn_s) if policy.warn_s else policy.limit_s
    warned = decision.idle_s >= first
    return {"unknown_gpu": False, "warned": warned,
            "idle_minutes": int(decision.idle_s // 60),
            "ends_at": decision.idle_since + timedelta(seconds=policy.limit_s),
            "can_keep": warned and may_keep(row.kept_at if row else None, last_use),
            "note": lost_changes_note(session)}


def keep(user, session_id: int, now: datetime | None = None) -> Session:
    """The owner's Keep: reset the idle clock, once per idle period. Audited."""
    from portal.services.sessions import get_session

    session = get_session(user, session_id)
    if session.user_id != user.id:
        raise NotFound(_l("No such session."))
    policy = policy_of(session.project_id)
    if session.state != "running" or policy is None:
        raise ServiceError(_l("This session is not subject to idle reclaim."), "not_idle")
    now = now or db.utcnow()
    row = _state(session)
    decision, last_use = evaluate(session, policy, now, row)
    if not may_keep(row.kept_at, last_use):
        raise ServiceError(_l("Keep was used already in this idle period; use the session "
                              "to keep it running."), "keep_used")
    row.kept_at, row.warned, row.period_start = now, [], None
    audit.record("session.idle_keep", f"session:{session.id}", actor=user, commit=False,
                 name=session.name, idle_s=int(decision.idle_s))
    db.session.commit()
    return session


# -- the worker step ---------------------------------------------------------------------


def _event_data(session: Session, decision: Decision, policy: IdlePolicy, ended: bool):
    from portal.services.notify import _session_data

    data = _session_data(session)
    end = (decision.idle_since or db.utcnow()) + timedelta(seconds=policy.limit_s)
    data.update(ended=ended, idle_minutes=int(decision.idle_s // 60),
                ends_at=end.strftime("%Y-%m-%d %H:%M UTC"), note=lost_changes_note(session))
    return data


def worker_step(scheduler, now: datetime | None = None) -> dict:
    """Warn and end idle sessions of projects with a policy. One session's trouble stops no
    other's; no transaction is open while scancel or a notification runs."""
    from portal.services import notify

    now = now or db.utcnow()
    policies = {p.project_id: p for p in db.session.scalars(
        select(IdlePolicy).where(IdlePolicy.limit_s > 0))}
    if not policies:
        return {}
    sessions = list(db.session.scalars(select(Session).where(
        Session.state == "running", Session.project_id.in_(list(policies)),
        Session.slurm_job_id.is_not(None))))
    warned = ended = 0
    errors = []
    for session in sessions:
        try:
            policy = policies[session.project_id]
            row = _state(session)
            decision, _ = evaluate(session, policy, now, row)
            if decision.action == "none":
                if row.period_start != decision.idle_since:
                    row.period_start, row.warned = decision.idle_since, decision.warned
                db.session.commit()
                continue
            period = decision.idle_since
            if decision.action == "warn":
                row.period_start, row.warned = period, decision.warned
                db.session.commit()
                event = notify.Event(session.user, "idle_warning",
                                     f"session:{session.id}:idle:{period:%Y%m%dT%H%M%S}:"
                                     f"{decision.point}",
                                     _event_data(session, decision, policy, False))
                warned += 1
            else:
                data = _event_data(session, decision, policy, True)
                job, owner = session.slurm_job_id, session.user.unix_user
                db.session.commit()
                scheduler.delete(job, as_user=owner)
                session.state, session.delete_requested_at = "deleting", now
                row.reclaimed_at = now
                audit.record("session.idle_end", f"session:{session.id}", actor=None,
                             commit=False, name=session.name, slurm_job_id=job,
                             idle_s=int(decision.idle_s), limit_s=policy.limit_s)
                db.session.commit()
                event = notify.Event(session.user, "idle_warning",
                                     f"session:{session.id}:idle_end", data)
                ended += 1
            try:
                notify.deliver(event)
            except Exception:  # noqa: BLE001 - the decision stands; the message is logged
                db.session.rollback()
                log.exception("idle: notifying session %s failed", session.id)
        except AdapterError as exc:
            db.session.rollback()
            errors.append(f"session {session.id}: {exc.message}"[:200])
        except Exception as exc:  # noqa: BLE001 - the next session still runs
            db.session.rollback()
            log.exception("idle: session %s failed", session.id)
            errors.append(f"session {session.id}: {exc}"[:200])
    summary = {k: v for k, v in (("idle_warned", warned), ("idle_ended", ended)) if v}
    if errors:
        summary["idle_error"] = "; ".join(errors)
    return summary
