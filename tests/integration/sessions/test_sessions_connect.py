"""One running session on the dev cluster, reached every way F3 offers: Jupyter through the
proxy (HTTP and the kernel websocket), the web terminal, SSH with the user's key; and
refused to everybody else without a byte of the session."""

from __future__ import annotations

import json
import re
import socket
import time

import pytest
from simple_websocket import Client
from simple_websocket import ConnectionError as Refused

from adapters.runner import CommandRunner
from adapters.sshd import ssh_probe
from portal import db
from portal.models import Session, Whitelist
from portal.services import sessions
from portal.services import users as usersvc
from tests.integration.sessions.sessionhelpers import (
    USER_AGENT,
    Browser,
    make_app,
    wait_for,
    ws_connect,
)
from tests.integration.sessions.sessionhelpers import kernel_execute as _execute

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sessions-connect")]


@pytest.fixture(scope="module")
def running(portal):
    """alice's session with Jupyter, SSH (her key, 127.0.0.1 only) and the web terminal."""
    app = portal.app
    with app.test_request_context():
        alice = usersvc.get_user("alice")
        key_id = alice_key_id(alice)
        whitelist = db.session.query(Whitelist).filter_by(name="loopback").one()
        created = sessions.create_session(alice, {
            "name": f"{portal.prefix}-conn", "image": "jupyter", "ssh_auth": "key",
            "ssh_key_ids": [key_id], "whitelist_ids": [whitelist.id], "end": "hours",
            "hours": 1, "cpus": 1, "mem_gb": 1})
        session_id = created.id
        db.session.remove()
    browser = Browser(portal.server.url)
    browser.login("alice")
    # The detail page looks at a starting session (rate-limited): no worker cycle needed.
    wait_for(lambda: browser.request(f"/sessions/{session_id}")[0] == 200
             and _state(app, session_id) == "running", 90, what="the session to run")
    yield session_id, browser
    with app.test_request_context():
        sessions.delete_session(usersvc.get_user("alice"), session_id)
        db.session.remove()


def alice_key_id(alice) -> int:
    from portal.services import keys

    return keys.list_keys(alice)[0].id


def _state(app, session_id: int) -> str:
    with app.app_context():
        state = db.session.get(Session, session_id).state
        db.session.remove()
    return state


def _session(app, session_id: int) -> dict:
    with app.app_context():
        row = db.session.get(Session, session_id)
        out = {"host": row.host, "ssh_port": row.ssh_port, "jupyter_port": row.jupyter_port,
               "job": row.slurm_job_id}
        db.session.remove()
    return out


def _ws(portal, browser: Browser, path: str, origin: str | None = None) -> Client:
    headers = {"Cookie": browser.cookie_header(), "Origin": origin or portal.server.url,
               "User-Agent": USER_AGENT}
    return ws_connect(f"ws://{portal.server.host}{path}", headers)




def test_jupyter_kernel_executes_code_through_the_proxy(portal, running):
    session_id, browser = running
    status, _, body = browser.request(f"/s/{session_id}/api/status")
    assert status == 200 and "kernels" in json.loads(body)
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


def test_jupyter_lab_page_opens(running):
    session_id, browser = running
    status, headers, body = browser.request(f"/s/{session_id}/lab")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"jupyter-config-data" in body and f"/s/{session_id}/".encode() in body


def test_other_user_gets_404_and_never_a_byte(portal, running):
    session_id, _ = running
    bob = Browser(portal.server.url)
    bob.login("bob")
    for path in (f"/s/{session_id}/api/status", f"/s/{session_id}/api/kernels",
                 f"/sessions/{session_id}/terminal"):
        status, _, body = bob.request(path)
        assert status == 404, path
        assert b"not yours to see" in body and b"last_activity" not in body
    with pytest.raises(Refused):
        _ws(portal, bob, f"/s/{session_id}/api/events/subscribe")
    with pytest.raises(Refused):
        _ws(portal, bob, f"/terminal/{session_id}/ws")
    anonymous = Browser(portal.server.url)
    status, headers, _ = anonymous.request(f"/s/{session_id}/api/status")
    assert status == 302 and "/login" in headers["Location"]


def test_address_outside_the_whitelist_is_refused(portal, running):
    session_id, _ = running
    # Behind the (trusted) TLS proxy, alice now comes from 10.9.9.9.
    elsewhere = Browser(portal.server.url, headers={"X-Forwarded-For": "10.9.9.9"})
    elsewhere.login("alice")
    status, _, body = elsewhere.request(f"/s/{session_id}/api/status")
    assert status == 403 and b"10.9.9.9" in body and b"last_activity" not in body


def test_websocket_from_another_site_is_refused(portal, running):
    session_id, browser = running
    with pytest.raises(Refused):
        _ws(portal, browser, f"/s/{session_id}/api/events/subscribe", origin="http://evil.test")


def test_web_terminal_shows_the_node_and_the_owners_uid(portal, running):
    session_id, browser = running
    ws = _ws(portal, browser, f"/terminal/{session_id}/ws?rows=30&cols=100")
    output = b""
    try:
        ws.send(json.dumps({"t": "i", "d": "echo M$((6*7))K; hostname; id -u\r"}))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not re.search(rb"M42K\s+(\S+)\s+(\d+)", output):
            chunk = ws.receive(timeout=1)
            output += chunk if isinstance(chunk, bytes) else (chunk or "").encode()
    finally:
        ws.close()
    match = re.search(rb"M42K\s+(\S+)\s+(\d+)", output)
    assert match, output[-2000:]
    assert match.group(1).decode() == socket.gethostname().split(".")[0]
    assert int(match.group(2)) == 2001  # alice


def test_ssh_with_the_users_key_runs_a_command_in_the_container(portal, running):
    session_id, browser = running
    info = _session(portal.app, session_id)
    page = browser.request(f"/sessions/{session_id}")[2].decode()
    assert f"ssh -p {info['ssh_port']} alice@{info['host']}" in page
    address = socket.gethostbyname(info["host"])
    result = ssh_probe(CommandRunner(), host=address, port=info["ssh_port"], login="alice",
                       identity_file=str(portal.private_key_path),
                       command=("test -x /opt/venv/bin/jupyter && echo in-container; id -u",))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["in-container", "2001"]


def test_ssh_from_an_address_outside_the_whitelist_is_refused(portal, running):
    session_id, _ = running
    info = _session(portal.app, session_id)
    result = ssh_probe(CommandRunner(), host="127.0.0.1", port=info["ssh_port"], login="alice",
                       identity_file=str(portal.private_key_path), source="127.0.0.2")
    assert result.returncode == 255 and "Permission denied" in result.stderr


def test_a_restarted_portal_still_proxies_the_session(portal, running, tmp_path):
    session_id, browser = running
    restarted = make_app(portal.app.config["DATABASE_URL"].removeprefix("sqlite:///"),
                         TRUSTED_PROXY_COUNT=1)
    client = restarted.test_client()
    client.set_cookie(*_cookie(browser))
    response = client.get(f"/s/{session_id}/api/status", headers={"User-Agent": USER_AGENT})
    assert response.status_code == 200 and "kernels" in response.get_json()


def _cookie(browser: Browser) -> tuple[str, str]:
    cookie = next(c for c in browser.jar if c.name == "session")
    return cookie.name, cookie.value


def test_cli_connect_prints_the_ssh_command(portal, running, monkeypatch):
    from click.testing import CliRunner

    from portal import cli, cli_common

    session_id, _ = running
    info = _session(portal.app, session_id)
    monkeypatch.setattr(cli_common, "make_app", lambda: portal.app)
    result = CliRunner().invoke(cli.main, ["session", "connect", str(session_id), "--user",
                                           "alice"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"ssh -p {info['ssh_port']} alice@{info['host']}"
