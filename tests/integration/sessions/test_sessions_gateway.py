"""Issue #14: the session gateway in front of the app, with a real running session.

Everything goes through the gateway's one address: Jupyter runs 1+1 over a websocket that
holds no app thread, the terminal types through it, another user still gets 404, an
address outside the whitelist and a foreign Origin are refused, and the gateway's internal
interface cannot be reached by a client.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import json
import os
import statistics
import threading
import time
import uuid

import aiohttp
import pytest
from simple_websocket import ConnectionError as Refused

from adapters.factory import make_scheduler
from adapters.runner import CommandRunner
from portal import db
from portal.gateway.server import Background, gateway_for
from portal.models import Whitelist
from portal.services import ServiceError, keys, public_images, sessions, whitelists
from portal.services import users as usersvc
from tests.integration.sessions.conftest import Portal
from tests.integration.sessions.sessionhelpers import (
    JUPYTER_IMAGE,
    USER_AGENT,
    Browser,
    LiveServer,
    add_member,
    cycle,
    make_app,
    remove_session_dirs,
    wait_for,
)
from tests.integration.sessions.test_sessions_connect import _execute, _state, _ws

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sessions-gateway")]


class _Front:
    """The gateway as the one address the tests use (`.url`, `.host`)."""

    def __init__(self, app, live):
        self.live = live
        self.bg = Background(gateway_for(app, live.url))
        self.url, self.host = self.bg.url, self.bg.host

    def stop(self):
        self.bg.stop()
        self.live.stop()


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """As tests/integration/sessions/conftest.py's, but the app sits behind the gateway."""
    tmp = tmp_path_factory.mktemp("gateway")
    app = make_app(tmp / "portal.db", TRUSTED_PROXY_COUNT=1, BEHIND_GATEWAY=True)
    prefix = "gw" + uuid.uuid4().hex[:6]
    summary = cycle(app)
    assert summary.get("cluster_ok"), f"the dev cluster must be up: {summary}"
    with app.app_context():
        alice = add_member("alice", "proja")
        add_member("bob", "proja")
        public_images.register_image("jupyter", JUPYTER_IMAGE, framework="Python 3 / Jupyter")
        _, private = keys.create_key(alice, "laptop")
        whitelists.create_whitelist(alice, "loopback", "127.0.0.1/32 tcp")
        db.session.remove()
    key_path = tmp / "id_alice"
    key_path.write_text(private)
    key_path.chmod(0o600)
    front = _Front(app, LiveServer(app))
    yield Portal(app, front, prefix, key_path)
    front.stop()
    remove_session_dirs(app)
    runner = CommandRunner()
    for job in make_scheduler(app.config).info_all():
        if (job.name or "").startswith(prefix) and not job.state.is_terminal:
            runner.run(["scancel", "--", job.id], as_user=job.user, check=False)


@pytest.fixture(scope="module")
def running(portal):
    """alice's running session with Jupyter and the web terminal (127.0.0.1 only)."""
    app = portal.app
    with app.test_request_context():
        whitelist = db.session.query(Whitelist).filter_by(name="loopback").one()
        created = sessions.create_session(usersvc.get_user("alice"), {
            "name": f"{portal.prefix}-gw", "image": "jupyter", "ssh_auth": "key",
            "ssh_key_ids": [keys.list_keys(usersvc.get_user("alice"))[0].id],
            "whitelist_ids": [whitelist.id], "end": "hours", "hours": 1, "cpus": 1,
            "mem_gb": 1})
        session_id = created.id
        db.session.remove()
    browser = Browser(portal.server.url)
    browser.login("alice")
    wait_for(lambda: browser.request(f"/sessions/{session_id}")[0] == 200
             and _state(app, session_id) == "running", 90, what="the session to run")
    yield session_id, browser
    with app.test_request_context(), contextlib.suppress(ServiceError):
        sessions.delete_session(usersvc.get_user("alice"), session_id)
    with app.app_context():
        db.session.remove()


def test_kernel_runs_1_plus_1_through_the_gateway(portal, running):
    session_id, browser = running
    status, _, body = browser.json(f"/s/{session_id}/api/kernels", method="POST", body={})
    assert status == 201, body
    kernel_id = json.loads(body)["id"]
    ws = _ws(portal, browser, f"/s/{session_id}/api/kernels/{kernel_id}/channels")
    try:
        assert _execute(ws, "1+1") == "2"
    finally:
        ws.close()
    status, _, _ = browser.request(f"/s/{session_id}/api/kernels/{kernel_id}", method="DELETE",
                                   headers={"Origin": portal.server.url})
    assert status == 204
    status, headers, body = browser.request(f"/s/{session_id}/lab")
    assert status == 200 and b"jupyter-config-data" in body
    assert "username-" not in headers.get("Set-Cookie", "")


def test_terminal_types_through_the_gateway(portal, running):
    """The gateway runs the terminal's pty itself (no app thread), from the app's decision."""
    session_id, browser = running
    ws = _ws(portal, browser, f"/terminal/{session_id}/ws?rows=30&cols=100")
    output = b""
    try:
        ws.send(json.dumps({"t": "i", "d": "echo M$((6*7))K\r"}))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and b"M42K" not in output:
            chunk = ws.receive(timeout=1)
            output += chunk if isinstance(chunk, bytes) else (chunk or "").encode()
        held = [grant for grant in portal.server.bg.gateway.open if grant[-1] == "webterm"]
    finally:
        ws.close()
    assert b"M42K" in output, output[-2000:]
    assert held and held[0][0] == session_id


def _read_until(ws, output: bytes, wanted: bytes, seconds: float = 60) -> bytes:
    """The terminal's output so far, read on until `wanted` shows up (or the deadline)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and wanted not in output:
        chunk = ws.receive(timeout=1)
        output += chunk if isinstance(chunk, bytes) else (chunk or "").encode()
    return output


def test_terminal_carries_an_interactive_password_prompt(portal, running):
    """A program in the terminal asking for a password (sudo, ssh, kinit) works through the
    gateway: the prompt arrives, the typed answer reaches the program without echo."""
    session_id, browser = running
    ws = _ws(portal, browser, f"/terminal/{session_id}/ws?rows=30&cols=100")
    try:
        # The prompt and the result are spelled differently from the typed command line,
        # so the shell's echo of that line does not count as either.
        ws.send(json.dumps({"t": "i", "d": "read -s -p 'Pass''word: ' x; echo got-$x-end\r"}))
        output = _read_until(ws, b"", b"Password: ")
        assert b"Password: " in output, output[-2000:]
        prompted = len(output)
        ws.send(json.dumps({"t": "i", "d": "abc\r"}))
        output = _read_until(ws, output, b"got-abc-end")
    finally:
        ws.close()
    assert b"got-abc-end" in output, output[-2000:]
    after_prompt = output[prompted:output.index(b"got-abc-end")]
    assert b"abc" not in after_prompt, after_prompt  # read -s: the answer is not echoed


def test_download_arrives_whole_through_the_gateway_to_a_slow_reader(portal, running):
    """A large file comes through the gateway byte for byte, also to a client that reads
    slower than Jupyter sends (the gateway pauses Jupyter's socket meanwhile), and the
    next request afterwards is answered."""
    session_id, browser = running
    name = f"gw-relay-{uuid.uuid4().hex[:8]}.bin"
    content = os.urandom(16 << 20)
    runner = CommandRunner()
    runner.run(["dd", f"of=/home/alice/{name}", "status=none"], as_user="alice", input=content)
    headers = {"Cookie": browser.cookie_header(), "User-Agent": USER_AGENT}
    try:
        conn = http.client.HTTPConnection(portal.server.host, timeout=30)
        conn.request("GET", f"/s/{session_id}/files/{name}", headers=headers)
        resp = conn.getresponse()
        assert resp.status == 200 and int(resp.getheader("Content-Length")) == len(content)
        received = bytearray()
        while chunk := resp.read1(64 << 10):
            received += chunk
            if len(received) < (2 << 20):
                time.sleep(0.05)  # a slow reader for the first 2 MiB
        conn.close()
        assert hashlib.sha256(received).digest() == hashlib.sha256(content).digest()
        assert browser.request(f"/s/{session_id}/api/status")[0] == 200
        status, _, body = browser.request(f"/s/{session_id}/files/{name}",
                                          headers={"Range": "bytes=1000-1999"})
        assert status == 206 and body == content[1000:2000]
    finally:
        runner.run(["rm", "-f", "--", f"/home/alice/{name}"], as_user="alice", check=False)


def test_other_user_gets_404_through_the_gateway(portal, running):
    session_id, _ = running
    bob = Browser(portal.server.url)
    bob.login("bob")
    for path in (f"/s/{session_id}/api/status", f"/s/{session_id}/api/kernels"):
        status, _, body = bob.request(path)
        assert status == 404 and b"last_activity" not in body, path
    with pytest.raises(Refused):
        _ws(portal, bob, f"/s/{session_id}/api/events/subscribe")
    with pytest.raises(Refused):
        _ws(portal, bob, f"/terminal/{session_id}/ws")
    status, headers, _ = Browser(portal.server.url).request(f"/s/{session_id}/api/status")
    assert status == 302 and "/login" in headers["Location"]


def test_whitelist_and_origin_are_checked_through_the_gateway(portal, running):
    session_id, browser = running
    elsewhere = Browser(portal.server.url, headers={"X-Forwarded-For": "10.9.9.9"})
    elsewhere.login("alice")
    status, _, body = elsewhere.request(f"/s/{session_id}/api/status")
    assert status == 403 and b"10.9.9.9" in body and b"last_activity" not in body
    # A client that is not behind the trusted proxy cannot claim the loopback address:
    # the gateway appends the address it saw itself.
    with pytest.raises(Refused):
        _ws(portal, browser, f"/s/{session_id}/api/events/subscribe", origin="http://evil.test")
    status, _, _ = browser.request(f"/s/{session_id}/api/kernels", method="POST", data=b"{}",
                                   headers={"Origin": "http://evil.test"})
    assert status == 403


def test_internal_interface_is_not_reachable(portal, running):
    session_id, browser = running
    for path in (f"/_gateway/authorize/{session_id}", "/_gateway/recheck"):
        assert browser.request(path, method="POST", data=b"{}")[0] == 404
    direct = Browser(portal.server.live.url)
    direct.jar = browser.jar
    status, _, body = direct.request(f"/_gateway/authorize/{session_id}", method="POST",
                                     data=b"", headers={"X-Portal-Gateway": "guess"})
    assert status == 404 and b"decision" not in body


async def _hold(url: str, headers: dict, count: int, pages: int, page_url: str, app):
    """Open `count` websockets at once, then time page loads (and count the app's checked
    out database connections) while they are open."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as client:
        sockets = await asyncio.gather(*[client.ws_connect(url)
                                         for _ in range(count)])
        try:
            timings = []
            for _ in range(pages):
                start = time.monotonic()
                async with client.get(page_url, allow_redirects=False) as resp:
                    await resp.read()
                    assert resp.status == 200
                timings.append(time.monotonic() - start)
            checked_out = app.extensions["db_engine"].pool.checkedout()
            assert all(not ws.closed for ws in sockets)
            return timings, checked_out
        finally:
            await asyncio.gather(*[ws.close() for ws in sockets])


def _run_in_own_thread(coro):
    """asyncio.run in a thread of its own: a browser test earlier in this xdist worker leaves
    Playwright's event loop set on the main thread ("cannot be called from a running event
    loop")."""
    out: dict = {}

    def run():
        try:
            out["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - raised again in the test's thread
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_pages_answer_while_200_websockets_are_open(portal, running):
    """JupyterLab tabs' sockets hold no app thread or database connection: 200 opened at
    once cost ONE authorize call per decision window, and pages stay fast meanwhile."""
    session_id, browser = running
    gateway = portal.server.bg.gateway
    calls = []
    ask = gateway._ask_app

    async def counted(*args):
        calls.append(time.monotonic())
        return await ask(*args)

    gateway._ask_app = counted
    headers = {"Cookie": browser.cookie_header(), "Origin": portal.server.url,
               "User-Agent": USER_AGENT}
    start = time.monotonic()
    try:
        timings, checked_out = _run_in_own_thread(_hold(
            f"ws://{portal.server.host}/s/{session_id}/api/events/subscribe", headers, 200, 20,
            f"{portal.server.url}/jobs/", portal.app))
    finally:
        gateway._ask_app = ask
    windows = 1 + (time.monotonic() - start) / gateway.decision_ttl
    assert 1 <= len(calls) <= windows, (len(calls), windows)
    assert checked_out <= 2, checked_out
    assert statistics.quantiles(timings, n=20)[-1] < 2.0, timings


def test_deleted_sessions_open_connections_close_within_5s(portal, running):
    """Runs last (it deletes the session): an open websocket and a download in progress
    through the gateway both end within 5 s of the delete."""
    session_id, browser = running
    status, _, body = browser.json(f"/s/{session_id}/api/kernels", method="POST", body={})
    assert status == 201, body
    kernel = _ws(portal, browser, f"/s/{session_id}/api/kernels/{json.loads(body)['id']}/channels")
    try:
        path = json.loads(_execute(kernel, "import os, json; open('gw-big.bin', 'wb')"
                                           ".write(b'x' * (64 << 20)); "
                                           "json.dumps(os.path.abspath('gw-big.bin'))").strip("'"))
    finally:
        kernel.close()
    try:
        ws = _ws(portal, browser, f"/s/{session_id}/api/events/subscribe")
        terminal = _ws(portal, browser, f"/terminal/{session_id}/ws")
        download = http.client.HTTPConnection(portal.server.host, timeout=10)
        download.request("GET", f"/s/{session_id}/files/gw-big.bin",
                         headers={"Cookie": browser.cookie_header(), "User-Agent": USER_AGENT})
        resp = download.getresponse()
        assert resp.status == 200 and len(resp.read(65536)) == 65536
        with portal.app.test_request_context():
            sessions.delete_session(usersvc.get_user("alice"), session_id)
            db.session.remove()
        deleted = time.monotonic()

        def closed(sock):
            try:
                while sock.receive(timeout=0.2) not in (None, ""):
                    pass  # the terminal's prompt, say
            except Exception:  # noqa: BLE001 - simple_websocket raises ConnectionClosed
                return True
            return not sock.connected

        wait_for(lambda: closed(ws), 10, step=0.05, what="the deleted session's websocket")
        wait_for(lambda: closed(terminal), 10, step=0.05, what="the deleted session's terminal")
        ws_after = time.monotonic() - deleted
        received = 65536
        with contextlib.suppress(http.client.IncompleteRead, ConnectionError, OSError):
            # A slow reader until 4 s after the delete, then as fast as it can: what is
            # still in the sockets' buffers arrives, and then the body must end, cut.
            while chunk := resp.read1(64 << 10):
                received += len(chunk)
                if time.monotonic() - deleted < 4.0:
                    time.sleep(0.05)
        stream_after = time.monotonic() - deleted
        download.close()
        assert ws_after <= 5.0, ws_after
        assert received < 64 << 20 and stream_after <= 5.0, (received, stream_after)
        assert browser.request(f"/s/{session_id}/api/status")[0] in (404, 503)
    finally:
        CommandRunner().run(["rm", "-f", "--", path], as_user="alice", check=False)
