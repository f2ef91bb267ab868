"""Who may reach a session's Jupyter through `/s/<session-id>/…`, and where it is (decision 5).

The route is by session id only: the host and port come from the database, never from
the URL. A request is forwarded only when all of these hold:
- the requester is the session's owner. Project managers see members' sessions in the
  list and detail and may delete them (F2), but do not connect: a member's Jupyter pages
  would run in the manager's browser on the portal's origin, and a terminal would be a
  shell as the member;
- the session is running, and the host its job recorded is in the job's Slurm node list;
- the port is the Jupyter port the session recorded;
- the client address is admitted by the session's whitelists (or it allows all);
- a browser request from another site (an Origin header that is not the portal's own)
  is refused, for websocket upgrades and for every method but GET/HEAD.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l

from portal import db
from portal.models import Session
from portal.services import Forbidden, NotFound, ServiceError
from portal.services import sessionconn as conn
from portal.services import whitelists as wlsvc

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# A granted decision is reused for this long by the same user (same login), session and
# client address: a JupyterLab page fires dozens of requests at once, and three database
# look-ups each would triple the proxy's latency (bench/sessions_proxy.py). A session that
# ends is refused at most this much later than its state changes.
DECISION_TTL = 2.0
_MAX_DECISIONS = 4096
_decisions: dict[tuple, tuple[float, Target]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Target:
    """Where to forward: `prefix` is the session's base path ("/s/7/")."""

    session_id: int
    host: str
    port: int
    token: str
    prefix: str


def same_origin(origin: str | None, host: str) -> bool:
    """True when `origin` is absent or names `host` (the request's own Host header)."""
    if origin is None:
        return True
    try:
        return urlsplit(origin).netloc.lower() == host.lower()
    except ValueError:
        return False


def owned_session(user, session_id: int) -> Session:
    """The user's own, visible session. Raises NotFound otherwise (no hint it exists)."""
    session = db.session.get(Session, session_id)
    if session is None or session.hidden or user is None or session.user_id != user.id:
        raise NotFound(_l("No such session."))
    return session


def check_client(session: Session, client: str, port: int = wlsvc.WEB_PORT) -> None:
    """Raises Forbidden unless the session's whitelists admit `client` for the service."""
    lists = () if session.allow_all else session.whitelists  # no look-up when all may come
    if not wlsvc.admits(lists, client, port, "tcp", allow_all=session.allow_all):
        raise Forbidden(
            _l("Your address %(address)s is not in this session's whitelists.",
               address=client),
            "address_not_admitted",
        )


def check_origin(origin: str | None, host: str, method: str, websocket: bool) -> None:
    if (websocket or method.upper() not in SAFE_METHODS) and not same_origin(origin, host):
        raise Forbidden(_l("Requests from other sites are refused."), "bad_origin")
    if websocket and origin is None:
        raise Forbidden(_l("A websocket without an Origin is refused."), "bad_origin")


def running(session: Session, probe=None) -> Session:
    """The session if it runs with a usable connection; raises ServiceError("not_running").

    `probe(session)` may update a pending/starting one first (rate-limited by its owner).
    """
    if session.state in ("pending", "starting") and probe is not None:
        probe(session)
    if session.state != "running" or not session.host:
        raise ServiceError(
            _l("The session is not running (it is %(state)s).", state=session.state),
            "not_running", 503,
        )
    return session


def authorize(user, session_id: int, client: str, *, host: str, origin: str | None = None,
              method: str = "GET", websocket: bool = False, probe=None) -> Target:
    """The forwarding target for this request, or an error: NotFound (not the owner's),
    Forbidden (whitelist, origin, a host Slurm did not allocate), ServiceError 503 (not
    running, no Jupyter). Granted decisions are reused for DECISION_TTL seconds."""
    check_origin(origin, host, method, websocket)
    key = (session_id, getattr(user, "id", None), getattr(user, "session_version", None),
           client)
    now = time.monotonic()
    with _lock:
        cached = _decisions.get(key)
    if cached is not None and now - cached[0] < DECISION_TTL:
        return cached[1]
    target = _decide(user, session_id, client, probe)
    with _lock:
        if len(_decisions) >= _MAX_DECISIONS:
            _decisions.clear()
        _decisions[key] = (now, target)
    return target


def forget(session_id: int) -> None:
    """Drop cached decisions for a session (it was deleted here)."""
    with _lock:
        for key in [k for k in _decisions if k[0] == session_id]:
            del _decisions[key]


def _decide(user, session_id: int, client: str, probe) -> Target:
    session = owned_session(user, session_id)
    check_client(session, client)
    running(session, probe)
    if session.host not in conn.node_list(session):
        raise Forbidden(_l("The session's host is not a node of its job."), "bad_target")
    token = conn.decrypt_token(session)
    if "jupyter" not in session.services or not session.jupyter_port or not token:
        raise ServiceError(_l("This session has no Jupyter."), "no_jupyter", 503)
    # The node's address as Slurm knows it, not its name: the node may be another host
    # whose name the portal host cannot resolve (issue #15).
    return Target(session.id, conn.node_address(session.host), session.jupyter_port, token,
                  f"/s/{session.id}/")
