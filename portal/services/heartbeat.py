"""The worker's heartbeat: what its last cycle did, and whether it is late.

Every cached state (job and session states, charges, expiry) is only as fresh as the worker's
last cycle, so the worker stores one row at the end of each cycle and pages, the API and
`portal cluster status` read it. "Late" means the last cycle ended longer ago than
LATE_FACTOR pauses plus that cycle's own duration: a worker that died, hangs, or cannot
write to the database stops beating and is flagged within a few intervals.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from portal import db
from portal.models import WorkerHeartbeat

log = logging.getLogger(__name__)

NAME = "worker"
LATE_FACTOR = 3  # late after 3 intervals (+ the last cycle's duration) without a beat


def record(steps: dict, *, cycle_started_at: datetime, interval: float, cycles: int,
           process_started_at: datetime, now: datetime | None = None) -> WorkerHeartbeat:
    """Store this cycle's beat and per-step results (commits). A step that keeps failing
    keeps the time it first failed (`failing_since`), so admins see how long it has been."""
    now = now or db.utcnow()
    row = db.session.get(WorkerHeartbeat, NAME)
    before = dict(row.steps or {}) if row is not None else {}
    stored = {}
    for name, result in steps.items():
        since = None
        if not result["ok"]:
            since = ((before.get(name) or {}).get("failing_since")
                     or now.replace(microsecond=0).isoformat() + "Z")
        stored[name] = {**result, "failing_since": since}
    if row is None:
        row = WorkerHeartbeat(name=NAME)
        db.session.add(row)
    row.beat_at, row.cycle_started_at = now, cycle_started_at
    row.duration = round((now - cycle_started_at).total_seconds(), 3)
    row.interval, row.cycles, row.process_started_at = float(interval), cycles, process_started_at
    row.pid, row.host, row.steps = os.getpid(), socket.gethostname()[:255], stored
    db.session.commit()
    return row


def status(now: datetime | None = None) -> dict | None:
    """The worker's health as plain data; None when the database cannot say (not migrated,
    unreachable): callers then show nothing rather than fail the page."""
    try:
        row = db.session.get(WorkerHeartbeat, NAME)
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("worker heartbeat unreadable: %s", exc)
        return None
    if row is None:
        return {"reported": False, "late": True, "age_seconds": None, "beat_at": None,
                "interval": None, "late_after": None, "failed_steps": {}, "steps": {}}
    now = now or db.utcnow()
    age = (now - row.beat_at).total_seconds()
    late_after = LATE_FACTOR * row.interval + row.duration
    steps = row.steps or {}
    return {
        "reported": True,
        "late": age > late_after,
        "age_seconds": round(age, 1),
        "beat_at": row.beat_at.isoformat() + "Z",
        "interval": row.interval,
        "late_after": round(late_after, 1),
        "duration": row.duration,
        "cycles": row.cycles,
        "pid": row.pid,
        "host": row.host,
        "process_started_at": row.process_started_at.isoformat() + "Z",
        "steps": steps,
        "failed_steps": {name: s for name, s in steps.items() if not s.get("ok")},
    }


def page_view() -> dict | None:
    """status() plus the age and interval in words of the page's language ("3 minutes")."""
    from datetime import timedelta

    from flask_babel import format_timedelta

    view = status()
    if view is None or not view["reported"]:
        return view
    return {**view,
            "ago": format_timedelta(timedelta(seconds=view["age_seconds"]), threshold=1.0),
            "every": format_timedelta(timedelta(seconds=view["interval"]), threshold=1.0)}


def describe(view: dict | None) -> list[str]:
    """Plain-text lines for the CLI (English, like the rest of `portal`)."""
    if view is None:
        return ["worker: unknown (the database does not answer)"]
    if not view["reported"]:
        return ["worker: LATE: never reported (start `portal worker` or the portal-worker "
                "service)"]
    head = "LATE: " if view["late"] else ""
    lines = [
        f"worker: {head}last cycle ended {view['age_seconds']:.0f} s ago, took "
        f"{view['duration']:.2f} s (pid {view['pid']} on {view['host']}, every "
        f"{view['interval']:g} s, late after {view['late_after']:g} s)"
    ]
    failed = view["failed_steps"]
    ok = len(view["steps"]) - len(failed)
    lines.append(f"worker: {ok} of {len(view['steps'])} steps ok"
                 + (f"; failed: {', '.join(sorted(failed))}" if failed else ""))
    for name, step in sorted(failed.items()):
        lines.append(f"worker: step {name} failing since {step.get('failing_since')}: "
                     f"{step.get('error')}")
    return lines


__all__ = ["LATE_FACTOR", "NAME", "describe", "page_view", "record", "status"]
