"""Time to ready, per stage (issue #17 item 5): queued → started → container up → app
answering, each recorded once on the session row.

- queued: `submitted_at`, when sbatch returned the job id (Slurm accepted it);
- started: `started_at`, Slurm's StartTime once squeue says RUNNING (sessionsync.apply);
- container up: `container_up_at`, the moment the job's services listened, as the job
  itself wrote it into its connection file ("ready", the node's clock), recorded when the
  portal reads that file (sessionconn.apply_conn, kept in order by sessionconn.ready_time);
- app answering: `app_ready_at`, when Jupyter first answered `/s/<id>/api/status` to the
  portal (the proxy's own address, port, path and secret); a session without Jupyter
  counts as answering when its services listened (the job waited for their ports).

Each is written only while empty, so the worker's cycle and the owner's page (both call
`check_app`) may race without moving a time. Slurm's StartTime has whole seconds and the
node's clock may differ a little from the portal's, so a stage is never shown before the
one it follows (`stages`). `portal_part` splits the total into what the portal itself
took and what Slurm and the app took; bench/session_ready_stages.py measures it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l

from adapters import upstream
from portal import db
from portal.models import Session
from portal.services import sessionconn as conn

APP_TIMEOUT = 1.0  # seconds one "does Jupyter answer" probe may take (the worker waits)
STAGES = (
    ("queued", _l("Queued")),
    ("started", _l("Started by Slurm")),
    ("container", _l("Container up")),
    ("app", _l("App answering")),
)


def check_app(session: Session) -> bool:
    """Record when the session's app first answers; True once it has. One short HTTP GET
    (APP_TIMEOUT) through the proxy's path while it has not; nothing once it has."""
    if session.app_ready_at is not None:
        return True
    if session.state != "running" or not session.host:
        return False
    if "jupyter" not in (session.services or []) or not session.jupyter_port:
        session.app_ready_at = session.container_up_at or session.ready_at or db.utcnow()
        return True
    token = conn.decrypt_token(session)
    if not token or session.host not in conn.node_list(session):
        return False
    status = upstream.status_code(conn.node_address(session.host), session.jupyter_port,
                                  f"/s/{session.id}/api/status",
                                  {"Authorization": f"token {token}"}, timeout=APP_TIMEOUT)
    if status != 200:
        return False
    answered = db.utcnow()
    session.app_ready_at = max(answered, session.container_up_at or answered)
    return True


APP_WAIT = timedelta(minutes=10)  # after this long without an answer, stop asking


def waiting_for_app(session: Session, now: datetime | None = None) -> bool:
    """Running, its app not yet seen answering, and ready for less than APP_WAIT."""
    if session.state != "running" or session.app_ready_at is not None:
        return False
    return session.ready_at is None or (now or db.utcnow()) - session.ready_at < APP_WAIT


FAST_PENDING = timedelta(minutes=2)  # a queue wait longer than this is not "coming up"


def coming_up(session: Session, now: datetime | None = None) -> bool:
    """Starting, waiting for its app, or just submitted: the owner's page looks every
    second then (each look is rate-limited per session: sessions.probe)."""
    now = now or db.utcnow()
    if session.state in ("submitting", "starting") or waiting_for_app(session, now):
        return True
    since = session.submitted_at or session.created_at
    return session.state == "pending" and since is not None and now - since < FAST_PENDING


def stages(session: Session) -> list[dict]:
    """The four stages in order: {"stage", "label", "at" (naive UTC or None), "seconds"
    (since the stage before, or since the user asked for the queued one)}. A stage's time
    is never shown before the one it follows."""
    points = (session.submitted_at, session.started_at, session.container_up_at,
              session.app_ready_at)
    out, before = [], session.created_at
    for (key, label), at in zip(STAGES, points, strict=True):
        if at is not None and before is not None and at < before:
            at = before
        seconds = (round((at - before).total_seconds(), 1)
                   if at is not None and before is not None else None)
        out.append({"stage": key, "label": str(label), "at": at, "seconds": seconds})
        if at is not None:
            before = at
    return out


def total_seconds(session: Session) -> float | None:
    """From the user's click to the app answering; None until it has."""
    if session.app_ready_at is None or session.created_at is None:
        return None
    return round((session.app_ready_at - session.created_at).total_seconds(), 1)


def portal_part(session: Session) -> dict | None:
    """The total split by who took the time, from the row alone (None until the app
    answered): the portal before and after sbatch, Slurm (sbatch, queue, start), the
    job's container and app, and the portal noticing the ready file and the app."""
    s = session
    if s.app_ready_at is None or None in (s.submit_started_at, s.submit_ended_at,
                                          s.container_up_at, s.ready_at):
        return None

    def span(a, b):
        return max(0.0, (b - a).total_seconds()) if a is not None and b is not None else 0.0

    started = max(s.started_at or s.submit_ended_at, s.submit_ended_at)
    portal = (span(s.created_at, s.submit_started_at) + span(s.container_up_at, s.ready_at)
              + span(s.ready_at, s.app_ready_at))
    return {"portal_s": round(portal, 3),
            "slurm_s": round(span(s.submit_started_at, started), 3),
            "container_s": round(span(started, s.container_up_at), 3),
            "total_s": round(span(s.created_at, s.app_ready_at), 3)}


def stages_json(session: Session) -> list[dict]:
    return [{"stage": st["stage"], "at": st["at"].isoformat() + "Z" if st["at"] else None,
             "seconds": st["seconds"]} for st in stages(session)]
