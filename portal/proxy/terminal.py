"""The web terminal's websocket (decision 6): xterm.js ⇄ a pty running srun into the session.

Checked like the Jupyter proxy before the upgrade is accepted: the owner only, from an
address the session's whitelists admit, from the portal's own pages (Origin), while the
session runs. With a web-terminal password the first message must carry it.

Messages from the page are JSON text: {"t": "i", "d": "<keys>"} input, {"t": "r", "rows":
R, "cols": C} resize, {"t": "auth", "password": "…"}; the terminal's output goes back
as binary messages.
"""

from __future__ import annotations

import json
import threading

from flask import abort, current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from simple_websocket import ConnectionClosed

from adapters import factory
from adapters.errors import AdapterError
from adapters.factory import TerminalProcess
from portal.net import client_address
from portal.proxy import websocket
from portal.proxy.blueprint import bp
from portal.proxy.routes import _refusal
from portal.services import ServiceError, audit, idle
from portal.services import proxy as rules
from portal.services import sessions as svc
from portal.services import sessionscript as scripts
from portal.services.passwords import verify_password

AUTH_TIMEOUT = 120.0


def _size(name: str, default: int) -> int:
    try:
        return max(1, min(int(request.args.get(name, default)), 1000))
    except ValueError:
        return default


def _authorize(session_id: int):
    session = rules.owned_session(current_user, session_id)
    rules.check_client(session, client_address())
    rules.check_origin(request.headers.get("Origin"), request.host, "GET", True)
    rules.running(session, svc.probe)
    if "webterm" not in session.services or not session.slurm_job_id:
        raise ServiceError(_l("This session has no web terminal."), "no_webterm", 404)
    return session


def terminal_command(session) -> tuple[str, list[str]]:
    """The owner's Unix user and the `srun --overlap --pty` argv of a terminal (also what
    the session gateway runs, from the app's signed decision: portal/gateway/internal.py)."""
    inner = scripts.terminal_argv(svc.script_input(session), session.shell)
    return session.user.unix_user, factory.attach_argv(
        current_app.config, session.slurm_job_id, inner)


def _password_ok(ws, session) -> bool:
    if not session.webterm_password_hash:
        return True
    ws.send(f"\x1b[1m{_('Web-terminal password')}:\x1b[0m ".encode())
    try:
        message = json.loads(ws.receive(timeout=AUTH_TIMEOUT) or "{}")
    except (ValueError, TypeError):
        message = {}
    password = message.get("password") if isinstance(message, dict) else None
    if isinstance(password, str) and verify_password(session.webterm_password_hash, password):
        ws.send(b"\r\n")
        return True
    ws.send(f"\r\n{_('Wrong password.')}\r\n".encode())
    return False


def _output(proc: TerminalProcess, ws, done: threading.Event) -> None:
    try:
        while not done.is_set():
            data = proc.read(0.2)
            if data is None:
                break
            if data:
                ws.send(data)
    except (ConnectionClosed, OSError):
        pass
    finally:
        done.set()
        websocket.close_quietly(ws)


def _input(proc: TerminalProcess, ws, done: threading.Event, session_id: int | None = None
           ) -> None:
    try:
        while not done.is_set():
            raw = ws.receive(timeout=1.0)
            if raw is None:
                continue
            try:
                message = json.loads(raw)
            except (ValueError, TypeError):
                continue
            if not isinstance(message, dict):
                continue
            if message.get("t") == "i" and isinstance(message.get("d"), str):
                if session_id is not None:
                    idle.touch(session_id, "terminal")  # idle reclaim (coarse)
                proc.write(message["d"].encode("utf-8", "replace"))
            elif message.get("t") == "r":
                proc.resize(message.get("rows", 24), message.get("cols", 80))
    except (ConnectionClosed, OSError, ValueError, TypeError):
        pass
    finally:
        done.set()


@bp.route("/terminal/<int:session_id>/ws", websocket=True)
def terminal_ws(session_id: int):
    if not current_user.is_authenticated:
        abort(404)
    try:
        session = _authorize(session_id)
    except ServiceError as exc:
        return _refusal(exc)
    owner, argv = terminal_command(session)
    runner = factory.make_runner(current_app.config)
    ws = websocket.accept()
    if not _password_ok(ws, session):
        websocket.close_quietly(ws, 4003, "wrong password")
        return websocket.finished(ws)
    try:
        proc = factory.make_terminal(runner, argv, user=owner, rows=_size("rows", 24),
                                     cols=_size("cols", 80))
    except AdapterError as exc:
        ws.send(f"\r\n{_('The terminal could not start: %(error)s', error=exc.message)}\r\n"
                .encode())
        websocket.close_quietly(ws)
        return websocket.finished(ws)
    audit.record("session.terminal", f"session:{session.id}", name=session.name)
    done = threading.Event()
    reader = threading.Thread(target=_output, args=(proc, ws, done), daemon=True)
    reader.start()
    try:
        _input(proc, ws, done, session.id)
    finally:
        proc.close()
        reader.join(timeout=5)
        websocket.close_quietly(ws)
    return websocket.finished(ws)
