"""Issue #12 finding 7: a copied session cookie replayed from another address.

Flask-Login's "strong" session protection ties a login to a hash of the client's address
and User-Agent, but took the address from the first `X-Forwarded-For` entry, which the
client writes itself. Here Bob holds Alice's cookie and her User-Agent (say, copied from a
shared machine) and replays them with `curl` from another loopback address, as the Unix
user bob, claiming Alice's address in `X-Forwarded-For`. The portal must treat him as a
stranger (redirect to the login page), whether it is reached directly or through a proxy.
"""

from __future__ import annotations

import subprocess

import pytest

from portal import db
from portal.services import users
from tests.conftest import PASSWORD
from tests.integration.sessions.sessionhelpers import USER_AGENT, Browser, LiveServer, make_app

pytestmark = pytest.mark.integration

ATTACKER_SOURCE = "127.0.0.2"  # another address on this host's loopback


def _serve(tmp_path, **config):
    app = make_app(tmp_path / "portal.db", **config)
    with app.app_context():
        users.create_user("alice", unix_user="alice", password=PASSWORD)
        db.session.remove()
    return LiveServer(app)


def _bob_replays(url: str, cookie: str, forwarded_for: str | None) -> int:
    """Bob's request with Alice's cookie and User-Agent, from ATTACKER_SOURCE; the status."""
    argv = ["runuser", "-u", "bob", "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
            "--interface", ATTACKER_SOURCE, "-A", USER_AGENT, "-H", f"Cookie: {cookie}"]
    if forwarded_for is not None:
        argv += ["-H", f"X-Forwarded-For: {forwarded_for}"]
    done = subprocess.run(argv + [url], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def test_copied_cookie_with_forged_forwarded_for_is_refused_without_proxy(tmp_path):
    server = _serve(tmp_path)  # trusted_proxy_count = 0: the socket's peer is the client
    try:
        alice = Browser(server.url)
        alice.login("alice")
        assert alice.request("/settings/profile")[0] == 200
        cookie = alice.cookie_header()
        # The attack: Alice's address (127.0.0.1) in the header Flask-Login used to trust.
        assert _bob_replays(server.url + "/settings/profile", cookie, "127.0.0.1") == 302
        assert _bob_replays(server.url + "/settings/profile", cookie, None) == 302
        # Alice, from her own address, is still logged in.
        assert alice.request("/settings/profile")[0] == 200
    finally:
        server.stop()


def test_copied_cookie_through_a_trusted_proxy_is_refused(tmp_path):
    server = _serve(tmp_path, TRUSTED_PROXY_COUNT=1)
    try:
        # Alice behind the proxy: the proxy appends her address, 198.51.100.7.
        alice = Browser(server.url, headers={"X-Forwarded-For": "198.51.100.7"})
        alice.login("alice")
        assert alice.request("/settings/profile")[0] == 200
        cookie = alice.cookie_header()
        # Bob writes Alice's address first; the proxy appends his own, 203.0.113.9.
        forged = "198.51.100.7, 203.0.113.9"
        assert _bob_replays(server.url + "/settings/profile", cookie, forged) == 302
        assert alice.request("/settings/profile")[0] == 200
    finally:
        server.stop()
