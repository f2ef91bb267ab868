"""Helpers of the F3 integration tests: a portal app on its own database, a live server,
a logged-in HTTP client with cookies, worker cycles and waits with deadlines."""

from __future__ import annotations

import http.cookiejar
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from simple_websocket import Client
from werkzeug.serving import make_server

from adapters.runner import CommandRunner
from portal import create_app, db, worker
from portal.migrate import upgrade
from portal.models import Session
from portal.services import sessions
from portal.services.jobscript import container_argv
from tests.conftest import PASSWORD
from tests.support.members import add_member  # noqa: F401 - the tests import it here
from tests.support.waiting import wait_for  # noqa: F401 - the tests import it here

REPO = Path(__file__).resolve().parents[3]
JUPYTER_IMAGE = str(REPO / "var" / "images" / "jupyter")
# Flask-Login's "strong" protection ties a login to the client's User-Agent: HTTP requests
# and websockets of one test browser send the same one.
USER_AGENT = "portal-session-tests"


def make_app(db_path: Path, **config):
    url = f"sqlite:///{db_path}"
    upgrade(url)
    return create_app({"TESTING": True, "SECRET_KEY": "sessions-test-secret", "DATABASE_URL": url,
                       "SESSION_COOKIE_SECURE": False, "RATELIMIT_STORAGE_URI": "memory://",
                       "LOGIN_RATE_LIMIT": "1000 per minute",
                       **config})


def cycle(app) -> dict:
    """One worker cycle in its own thread (its own DB session, as the worker process)."""
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(worker.run_cycle(app)))
    thread.start()
    thread.join(timeout=120)
    return result


class LiveServer:
    """The app on a free loopback port, threaded like gunicorn's gthread workers."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.host = f"127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join(timeout=5)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A cookie-keeping HTTP client that logs in through the real form (CSRF included)."""

    def __init__(self, base: str, headers: dict | None = None):
        self.base = base
        self.headers = {"User-Agent": USER_AGENT, **(headers or {})}
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def request(self, path: str, *, method: str = "GET", data: bytes | None = None,
                headers: dict | None = None, timeout: float = 30) -> tuple[int, dict, bytes]:
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={**self.headers, **(headers or {})})
        try:
            with self.opener.open(req, timeout=timeout) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def form(self, path: str, fields: dict | list) -> tuple[int, dict, bytes]:
        body = urllib.parse.urlencode(fields, doseq=True).encode()
        return self.request(path, method="POST", data=body,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})

    def csrf(self, path: str = "/settings/") -> str:
        page = self.request(path)[2].decode()
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

    def login(self, username: str, password: str = PASSWORD) -> None:
        status, _, _ = self.form("/login", {"username": username, "password": password,
                                            "csrf_token": self.csrf("/login"), "next": ""})
        assert status == 302, f"login of {username} failed ({status})"

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

    def json(self, path: str, *, method: str = "GET", body=None, extra: dict | None = None):
        headers = {"Content-Type": "application/json", "Origin": self.base, **(extra or {})}
        data = json.dumps(body).encode() if body is not None else None
        status, hdrs, raw = self.request(path, method=method, data=data, headers=headers)
        return status, hdrs, raw


class WsClient(Client):
    """simple-websocket's client, sending `Host: host:port` as browsers do."""

    def handshake(self):
        self.host = f"{self.host}:{self.port}"
        super().handshake()


def ws_connect(url: str, headers: dict) -> Client:
    return WsClient(url, headers=headers, receive_bytes=65536)


def remove_session_dirs(app) -> None:
    """Remove the session directories this test database made (as their owners)."""
    from adapters.errors import AdapterError
    from adapters.userfiles import UserFiles
    from portal.models import Session

    files = UserFiles()
    with app.app_context():
        for row in db.session.query(Session).all():
            if row.directory:
                try:
                    files.remove_tree(row.user.unix_user, row.directory)
                except (AdapterError, ValueError):
                    pass
        db.session.remove()


def kernel_execute(ws, code: str, timeout: float = 60, on_receive=None) -> str:
    """Run `code` in a Jupyter kernel over its websocket; its result as text.
    `on_receive(raw)`, if given, sees every frame that arrives meanwhile."""
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex,
                   "msg_type": "execute_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = ws.receive(timeout=max(0.1, deadline - time.monotonic()))
        if raw is None:
            break
        if on_receive is not None:
            on_receive(raw)
        msg = json.loads(raw)
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "execute_result":
            return msg["content"]["data"]["text/plain"]
        if msg["msg_type"] == "error":
            raise AssertionError(f"kernel error: {msg['content']}")
    raise AssertionError("no execute_result from the kernel")


def session_row(app, session_id: int) -> Session:
    """Session `session_id` as the database has it now, detached (readable after the
    context closes)."""
    with app.app_context():
        row = db.session.get(Session, session_id)
        db.session.expunge(row)
        db.session.remove()
    return row


def in_container(app, session_id: int, command: str) -> str:
    """`command` in the session's container: a job step as its owner alice, on its node
    (the terminal's way); its standard output."""
    with app.test_request_context():
        session = db.session.get(Session, session_id)
        argv = container_argv(sessions.script_input(session), ["/bin/sh", "-c", command],
                              service=True, shm=False)
        job_id = session.slurm_job_id
        db.session.remove()
    return CommandRunner(timeout=60).run(
        ["srun", f"--jobid={job_id}", "--overlap", "--ntasks=1", "--", *argv],
        as_user="alice").stdout
