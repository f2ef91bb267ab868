"""Issue #12, finding 6: a session's Jupyter secret never reaches the browser, and nothing
the browser received opens that Jupyter directly, around the session's whitelists.

alice runs a session (Jupyter + web terminal, whitelist 127.0.0.1/32) on the dev cluster.
Everything a browser and an API client get about it from the portal is collected: the
session pages, the API's answers, every page and API answer of Jupyter through
/s/<id>/ (JupyterLab's HTML with its jupyter-config-data, a 404 page, /login, /logout),
the cookies set, the websocket handshakes, and what a kernel and a Jupyter terminal show
of their environment. The secret (as the proxy decrypts it) appears in none of it.

Then bob, from 127.0.0.2 (outside the whitelist), connects straight to the node's Jupyter
port with every cookie the browser holds and every long hex string it was shown, as
`Authorization: token …` and as `?token=…`, over HTTP and websocket handshakes: refused
every time, while the same request with the real secret from the same address is let in
(so it is the credentials that are refused, not the address or the port). Through the
proxy, 1+1 still runs in a kernel.
"""

from __future__ import annotations

import json
import re
import socket
import time

import pytest

from adapters.runner import CommandRunner
from portal import db
from portal.models import Session, Whitelist
from portal.services import sessionconn, sessions, tokens
from portal.services import users as usersvc
from tests.integration.sessions import conftest as sessions_conftest
from tests.integration.sessions.sessionhelpers import (
    USER_AGENT,
    Browser,
    kernel_execute,
    wait_for,
    ws_connect,
)

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("sec-jupyter-token")]
# The F3 integration portal (own database, live server, alice and bob in proja, a
# "loopback" whitelist), as this module's `site` fixture.
site = sessions_conftest.portal

ATTACKER, ATTACKER_ADDRESS = "bob", "127.0.0.2"
HEX = re.compile(rb"[0-9a-fA-F]{32,}")

# Run as bob: plain connections from ATTACKER_ADDRESS to the node's Jupyter port, one per
# try; prints [status, Location, start of the answer] for each.
PROBE = r"""
import http.client, json, socket, sys
job = json.load(sys.stdin)
host, port, src = job["host"], job["port"], job["source"]

def http_try(path, headers):
    conn = http.client.HTTPConnection(host, port, timeout=20, source_address=(src, 0))
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        return [r.status, r.getheader("Location") or "", r.read(4096).decode("latin-1")]
    finally:
        conn.close()

def ws_try(path, headers):
    s = socket.create_connection((host, port), timeout=20, source_address=(src, 0))
    try:
        head = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
                "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Version: 13"] + [f"{k}: {v}" for k, v in headers.items()]
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
        return [status, "", data.decode("latin-1")]
    finally:
        s.close()

print(json.dumps([(http_try if kind == "http" else ws_try)(path, headers)
                  for kind, path, headers in job["tries"]]))
"""


@pytest.fixture(scope="module")
def running(site):
    """alice's session (Jupyter + web terminal) admitting only 127.0.0.1."""
    app = site.app
    with app.test_request_context():
        alice = usersvc.get_user("alice")
        loopback = db.session.query(Whitelist).filter_by(name="loopback").one()
        created = sessions.create_session(alice, {
            "name": f"{site.prefix}-tok", "image": "jupyter", "ssh_auth": "none",
            "whitelist_ids": [loopback.id], "end": "hours", "hours": 1, "cpus": 1,
            "mem_gb": 1})
        session_id = created.id
        db.session.remove()
    browser = Browser(site.server.url)
    browser.login("alice")
    wait_for(lambda: browser.request(f"/sessions/{session_id}")[0] == 200
             and _row(app, session_id)["state"] == "running", 120, what="the session to run")
    yield session_id, browser
    with app.test_request_context():
        sessions.delete_session(usersvc.get_user("alice"), session_id)
        db.session.remove()


def _row(app, session_id: int) -> dict:
    with app.test_request_context():
        row = db.session.get(Session, session_id)
        out = {"state": row.state, "host": row.host, "port": row.jupyter_port,
               "secret": sessionconn.decrypt_token(row) if row.token_enc else None}
        db.session.remove()
    return out


class Seen:
    """Everything the client received, as bytes, with where it came from."""

    def __init__(self):
        self.items: list[tuple[str, bytes]] = []

    def add(self, where: str, data) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8", "replace")
        self.items.append((where, data))

    def response(self, where: str, status: int, headers: dict, body: bytes) -> None:
        head = "".join(f"{k}: {v}\n" for k, v in headers.items())
        self.add(where, f"{status}\n{head}".encode() + body)

    def containing(self, needle: str) -> list[str]:
        return [where for where, data in self.items if needle.encode() in data]

    def hex_strings(self) -> set[str]:
        return {m.decode() for _, data in self.items for m in HEX.findall(data)}


def _portal_ws_handshake(site, browser: Browser, path: str) -> bytes:
    """The head of the portal's answer to a websocket upgrade, as a browser receives it."""
    host, port = site.server.host.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        head = [f"GET {path} HTTP/1.1", f"Host: {site.server.host}", "Upgrade: websocket",
                "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Version: 13", f"Origin: {site.server.url}",
                f"User-Agent: {USER_AGENT}", f"Cookie: {browser.cookie_header()}"]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n\r\n", 1)[0]


def _ws(site, browser: Browser, path: str):
    return ws_connect(f"ws://{site.server.host}{path}", {
        "Cookie": browser.cookie_header(), "Origin": site.server.url,
        "User-Agent": USER_AGENT})


def _execute(ws, code: str, seen: Seen) -> str:
    return kernel_execute(ws, code, on_receive=lambda raw: seen.add("kernel websocket", raw))


def _terminal_output(ws, command: str, marker: str, seen: Seen, timeout: float = 60) -> str:
    ws.send(json.dumps(["stdin", command + "\r"]))
    output, deadline = "", time.monotonic() + timeout
    while marker not in output and time.monotonic() < deadline:
        raw = ws.receive(timeout=1)
        if raw is None:
            continue
        seen.add("terminal websocket", raw)
        msg = json.loads(raw)
        if msg[0] == "stdout":
            output += msg[1]
    assert marker in output, output[-2000:]
    return output


@pytest.fixture(scope="module")
def seen(site, running):
    """What alice's browser (and her API client) received about the running session."""
    session_id, browser = running
    base, got = f"/s/{session_id}/", Seen()
    for path in ("/sessions/", f"/sessions/{session_id}", f"/s/{session_id}", base,
                 base + "lab", base + "lab/tree/x.ipynb", base + "tree", base + "login",
                 base + "logout", base + "no-such-page", base + "api/status", base + "api/me",
                 base + "api/contents", base + "api/sessions", base + "api/terminals",
                 base + "lab/api/settings", base + "lab/api/workspaces",
                 base + "api/status?token=0123456789abcdef0123456789abcdef"):
        got.response(path, *browser.request(path))
    status, headers, body = browser.json(base + "api/kernels", method="POST", body={})
    got.response("POST api/kernels", status, headers, body)
    assert status == 201, body
    kernel_id = json.loads(body)["id"]
    status, headers, body = browser.json(base + "api/terminals", method="POST", body={})
    got.response("POST api/terminals", status, headers, body)
    assert status == 200, body
    terminal = json.loads(body)["name"]
    with site.app.app_context():
        _, api_token = tokens.create_token(usersvc.get_user("alice"), "sec-jupyter-token")
        db.session.remove()
    api = Browser(site.server.url, {"Authorization": f"Bearer {api_token}"})
    for path in ("/api/v1/sessions", f"/api/v1/sessions/{session_id}"):
        got.response(path, *api.request(path))
    for path in (f"{base}api/kernels/{kernel_id}/channels",
                 f"{base}terminals/websocket/{terminal}", f"{base}api/events/subscribe"):
        got.add(f"handshake {path}", _portal_ws_handshake(site, browser, path))
    ws = _ws(site, browser, f"{base}api/kernels/{kernel_id}/channels")
    try:
        results = {"sum": _execute(ws, "1+1", got),
                   "env": _execute(ws, "import os; repr(dict(os.environ))", got)}
    finally:
        ws.close()
    ws = _ws(site, browser, f"{base}terminals/websocket/{terminal}")
    try:
        results["terminal"] = _terminal_output(ws, "env; echo END-$((6*7))", "END-42", got)
    finally:
        ws.close()
    got.add("cookie jar", "\n".join(f"{c.name}={c.value}; path={c.path}" for c in browser.jar))
    return got, browser, kernel_id, terminal, results


def test_the_secret_is_in_nothing_the_browser_received(site, running, seen):
    session_id, _ = running
    got, browser, _, _, results = seen
    secret = _row(site.app, session_id)["secret"]
    assert secret and len(secret) == 64
    assert got.containing(secret) == []
    # JupyterLab's page config is there, with an empty token; no Jupyter login cookie.
    lab = dict(got.items)[f"/s/{session_id}/lab"]
    assert lab.startswith(b"200") and b"jupyter-config-data" in lab
    assert re.search(rb'"token": ""', lab), lab[:3000]
    assert not [c.name for c in browser.jar if c.name.startswith("username-")]
    # Neither the kernel nor the terminal holds it in their environment.
    assert "PORTAL_JUPYTER_SECRET" not in results["env"] and "JUPYTER_TOKEN" not in results["env"]
    assert "PORTAL_JUPYTER_SECRET" not in results["terminal"]


def test_jupyter_still_works_through_the_proxy(running, seen):
    session_id, _ = running
    got, _, _, _, results = seen
    assert results["sum"] == "2"
    items = dict(got.items)
    for path in ("api/kernels", "terminals/websocket", "api/events/subscribe"):
        head = next(data for where, data in got.items if where.startswith("handshake")
                    and path in where)
        assert head.startswith(b"HTTP/1.1 101"), head
    # A token the client adds is not Jupyter's business: the proxy authenticates alone.
    assert items[f"/s/{session_id}/api/status?token=0123456789abcdef0123456789abcdef"
                 ].startswith(b"200")


def _probe(tries: list, host: str, port: int) -> list:
    result = CommandRunner().run(
        ["/usr/bin/python3", "-c", PROBE], as_user=ATTACKER, timeout=120,
        input=json.dumps({"host": host, "port": port, "source": ATTACKER_ADDRESS,
                          "tries": tries}))
    return json.loads(result.stdout)


def _refused(answer: list) -> bool:
    status, location, _ = answer
    return status in (401, 403) or (300 <= status < 400 and "/login" in location)


def test_what_the_browser_saw_does_not_open_jupyter_directly(site, running, seen):
    session_id, _ = running
    got, browser, kernel_id, terminal, _ = seen
    row = _row(site.app, session_id)
    base = f"/s/{session_id}/"
    cookies = "; ".join(f"{c.name}={c.value}" for c in browser.jar)
    xsrf = next((c.value for c in browser.jar if c.name == "_xsrf"), "")
    plain = {"Cookie": cookies, "X-XSRFToken": xsrf, "User-Agent": USER_AGENT}
    candidates = sorted(got.hex_strings() | {c.value for c in browser.jar})
    assert candidates, "the browser saw no strings to try"
    http_paths = [base + "api/status", base + "api/contents", base + "api/kernels",
                  base + "lab"]
    ws_paths = [f"{base}api/kernels/{kernel_id}/channels",
                f"{base}terminals/websocket/{terminal}"]
    tries = [("http", path, plain) for path in http_paths]
    tries += [("ws", path, plain) for path in ws_paths]
    for value in candidates:
        tries.append(("http", base + "api/status", {**plain, "Authorization": f"token {value}"}))
        tries.append(("http", f"{base}api/status?token={value}", plain))
        tries.append(("ws", ws_paths[0], {**plain, "Authorization": f"token {value}"}))
    answers = _probe(tries, row["host"], row["port"])
    let_in = [(kind, path, headers.get("Authorization", ""), answer[0])
              for (kind, path, headers), answer in zip(tries, answers, strict=True)
              if not (_refused(answer) if kind == "http" else answer[0] != 101)]
    assert let_in == [], let_in
    # The control: the same address and port with the real secret is let in, so it is the
    # credentials that were refused above.
    control = _probe([("http", base + "api/status", {"Authorization": f"token {row['secret']}"}),
                      ("ws", ws_paths[0], {"Authorization": f"token {row['secret']}"})],
                     row["host"], row["port"])
    assert [answer[0] for answer in control] == [200, 101], control
