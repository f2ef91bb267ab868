"""How sessions read on pages, API and CLI: state words, pending reasons, hardware."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal.services import efficiency, readystages, sessionconn
from portal.services.jobdisplay import hardware, reason_text

STATES = {
    "submitting": _l("submitting"),
    "pending": _l("pending"),
    "starting": _l("starting"),
    "running": _l("running"),
    "deleting": _l("deleting"),
    "ended": _l("ended"),
    "failed": _l("failed"),
    # Issue #12: asked for by a manager with a custom image; not submitted until accepted.
    "awaiting": _l("awaiting the owner's acceptance"),
    "declined": _l("declined"),
    "withdrawn": _l("withdrawn"),
}
SERVICES = {"jupyter": _l("Jupyter"), "ssh": _l("SSH"), "webterm": _l("Web terminal")}


def state_label(state: str) -> str:
    return str(STATES.get(state, state))


def gpu_spec(session) -> str:
    if not session.gpu_count:
        return str(_l("no GPU"))
    return f"{session.gpu_model}:{session.gpu_count}"


def session_view(session, *, openable: bool = True) -> dict:
    """Labels for lists and the detail page (no secrets). `openable` False: a row another
    member may only see (no link to its page, no delete box; see sessions.may_open)."""
    return {
        "openable": openable,
        "state": state_label(session.state),
        "reason": _waiting(reason_text(session.reason), session.slurm_job_id)
        if session.state == "pending" else "",
        "hardware": hardware(session),
        "gpu_spec": gpu_spec(session),
        "services": [str(SERVICES.get(s, s)) for s in session.services or []],
        "open": session.state == "running",
        "deletable": openable and session.state not in ("deleting",),
        "refresh": session.state in ("submitting", "pending", "starting", "deleting")
        or readystages.waiting_for_app(session),
        # Every second while it comes up (the page's probe notices each stage; issue #17
        # item 5: the portal adds <= 1 s), else every 3 s.
        "refresh_s": 1 if readystages.coming_up(session) else 3,
        "stages": readystages.stages(session),
        "time_to_ready_s": readystages.total_seconds(session),
    }


def session_json(session, *, connection: bool = False) -> dict:
    """The API's view of a session; `connection` adds where to connect (no secrets)."""
    def iso(value):
        return value.isoformat() + "Z" if value else None

    data = {
        "id": session.id, "name": session.name, "owner": session.user.username,
        "project": session.project.account, "state": session.state,
        "slurm_state": session.slurm_state, "reason": session.reason,
        "reason_text": session_view(session)["reason"],
        "deployment_id": session.slurm_job_id, "slurm_job_id": session.slurm_job_id,
        "gpu_model": session.gpu_model, "gpu_count": session.gpu_count, "cpus": session.cpus,
        "mem_gb": session.mem_gb, "shm_gb": session.shm_gb, "image": session.image,
        "framework": session.framework, "services": list(session.services or []),
        "nodes": sessionconn.node_list(session), "error": session.error,
        "created_at": iso(session.created_at), "started_at": iso(session.started_at),
        "end_at": iso(session.end_at), "begin_at": iso(session.begin_at),
        "time_limit_min": session.time_limit_min,
        "ends_at": iso(_ends_at(session)) if session.state in ("running", "starting")
        else None,
        "whitelists": [w.name for w in session.whitelists], "allow_all": session.allow_all,
        "writable": bool(session.writable),  # F4: keeps changes; can be saved as an image
        "stages": readystages.stages_json(session),  # issue #17 item 5: time to ready
        "time_to_ready_s": readystages.total_seconds(session),
        "efficiency": efficiency.of("session", session.id)  # issue #17 item 6
        if session.state in ("ended", "failed") else None,
    }
    if session.state == "awaiting":  # who asked, which image, built by whom (#12)
        from portal.services.sessionaccept import describe

        data["acceptance"] = describe(session)
    if connection:
        data["connection"] = sessionconn.connection_info(session)
    return data


def _ends_at(session):
    from portal.services.extend import ends_at

    return ends_at(session)


def _waiting(reason: str, slurm_job_id) -> str:
    from portal.services.startest import waiting_words  # issue #17: and the expected start

    return waiting_words(reason, slurm_job_id)
