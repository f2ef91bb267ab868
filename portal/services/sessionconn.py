"""A session's connection details: read from the job's 0600 file, checked, cached.

The job writes `connection.json` in the session directory (decision 4). The portal reads
it as the owner (the path comes from the database, never from a URL) and copies it onto
the session row; the Jupyter token is kept encrypted with a key derived from the
portal's secret, so a copy of the database alone does not open anybody's Jupyter.
Everything in the file was written by the user's job, so it is treated as untrusted:
the host must be a node Slurm allocated to the job, ports are numbers, the token hex.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app, url_for

from adapters.errors import AdapterError
from portal.db import utcnow
from portal.models import Session

MAX_CONN_BYTES = 4096
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,252}$")
_TOKEN = re.compile(r"^[0-9a-f]{16,128}$")


def _fernet() -> Fernet:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    key = hashlib.sha256(b"portal-session-token\0" + secret).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_token(token: str) -> str:
    return _fernet().encrypt(token.encode()).decode()


def decrypt_token(session: Session) -> str | None:
    """The Jupyter token, or None (none recorded, or the secret key changed)."""
    if not session.token_enc:
        return None
    try:
        return _fernet().decrypt(session.token_enc.encode()).decode()
    except InvalidToken:
        return None


def _port(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1024 <= value <= 65535:
        raise ValueError(f"not a port: {value!r}")
    return value


def parse_conn(text: str | bytes) -> dict:
    """The connection file's fields, checked. Raises ValueError for anything odd."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("connection file is not an object")
    host = data.get("host")
    if not isinstance(host, str) or not _HOST.fullmatch(host):
        raise ValueError(f"bad host: {host!r}")
    token = data.get("token") or None
    if token is not None and (not isinstance(token, str) or not _TOKEN.fullmatch(token)):
        raise ValueError("bad token")
    ready = data.get("ready")  # when its services listened (issue #17 item 5)
    if ready is not None and (isinstance(ready, bool) or not isinstance(ready, int | float)
                              or not 0 < ready < 1e11):
        raise ValueError(f"bad ready time: {ready!r}")
    conn = {"host": host, "jupyter_port": _port(data.get("jupyter_port")),
            "ssh_port": _port(data.get("ssh_port")), "token": token}
    if ready is not None:
        conn["ready"] = ready
    if conn["jupyter_port"] is not None and token is None:
        raise ValueError("Jupyter without a token")
    return conn


def read_conn(session: Session, files) -> dict | None:
    """The parsed connection file, None while it is not there (yet).

    Raises AdapterError when it cannot be read, ValueError when it is malformed.
    """
    user = session.user.unix_user
    path = f"{session.directory}/connection.json"
    size = files.size(user, path)
    if size is None:
        return None
    if size > MAX_CONN_BYTES:
        raise ValueError("connection file too large")
    return parse_conn(files.read_range(user, path, 0, size))


def node_list(session: Session) -> list[str]:
    return [n for n in (session.nodes or "").split(",") if n]


def apply_conn(session: Session, conn: dict) -> bool:
    """Copy a checked connection onto the row if its host is one of the job's nodes.

    Returns False (and records why in `error`) for a host Slurm did not allocate.
    """
    if conn["host"] not in node_list(session):
        session.error = f"connection file names host {conn['host']}, not a node of the job"
        return False
    session.host = conn["host"]
    session.jupyter_port = conn["jupyter_port"] if "jupyter" in session.services else None
    session.ssh_port = conn["ssh_port"] if "ssh" in session.services else None
    session.token_enc = encrypt_token(conn["token"]) if conn["token"] else None
    if session.container_up_at is None:  # issue #17 item 5: the "container up" stage, once
        session.container_up_at = ready_time(conn.get("ready"), session)
    return True


def ready_time(epoch, session: Session, now: datetime | None = None) -> datetime:
    """When the job says its services listened (seconds since the epoch, the node's clock)
    as naive UTC, kept between the stage before it and `now` (a node clock a little off, or
    a file the user edited, cannot move another stage); `now` when missing or unreadable."""
    now = now or utcnow()
    try:
        moment = datetime.fromtimestamp(float(epoch), UTC).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError, OSError):
        return now
    floors = [t for t in (session.started_at, session.submitted_at) if t is not None]
    if floors:
        moment = max(moment, *floors)
    return min(moment, now)


def try_read(session: Session, files) -> bool:
    """Read and apply the connection file; True when the session is now connectable."""
    try:
        conn = read_conn(session, files)
    except (AdapterError, ValueError) as exc:
        session.error = f"connection file unusable: {getattr(exc, 'message', exc)}"[:500]
        return False
    return conn is not None and apply_conn(session, conn)


def node_address(host: str) -> str:
    """Where the portal reaches a session's node: Slurm's NodeAddr for it (issue #15: the
    node need not be this host, nor have a name this host resolves), else the name."""
    from adapters import factory
    from portal.services.core import backend

    # a fake backend (no real runner): names are addresses
    return factory.node_address(backend.get_backend().scheduler, host)


def ssh_command(session: Session) -> str | None:
    """`ssh -p PORT user@HOST` (with `-J JUMP` where compute nodes need a jump host)."""
    if not session.ssh_port or not session.host:
        return None
    jump = current_app.config.get("SESSION_SSH_JUMP_HOST")
    parts = ["ssh"]
    if jump:
        parts += ["-J", str(jump)]
    parts += ["-p", str(session.ssh_port), f"{session.user.unix_user}@{session.host}"]
    return " ".join(parts)


def connection_info(session: Session) -> dict:
    """What the detail page, API and CLI show for a running session (no secrets)."""
    ready = session.state == "running" and bool(session.host)
    info = {"host": session.host if ready else None, "ssh_command": None,
            "jupyter_url": None, "terminal_url": None}
    if not ready:
        return info
    info["ssh_command"] = ssh_command(session)
    if session.jupyter_port:
        # JupyterLab through the proxy; no token in it: the proxy authenticates (issue 12).
        info["jupyter_url"] = url_for("proxy.forward", session_id=session.id, rest="lab")
    if "webterm" in session.services:
        info["terminal_url"] = url_for("sessions.terminal", session_id=session.id)
    return info
