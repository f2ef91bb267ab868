"""Issue #12 finding 5: the login limit was per gunicorn worker and per address only.

Before: Flask-Limiter with `memory://` storage gave every worker process its own budget
(with 2 workers, 14 wrong passwords from one address and then the right one got in), and
every new source address started from zero. Now failures are counted in the database, per
account and per address, so all processes share them.

The guesses come from the Unix user bob, over real HTTP, from several loopback source
addresses, against two separate gunicorn servers (2 workers each) on one database; the
requests alternate between the servers, so a per-process budget could not hold.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PASSWORD
from tests.security.portal_host import PortalHost, as_user

pytestmark = pytest.mark.integration

# Bob's client: stdlib only, run with the system python3 as bob. For each planned attempt
# (base URL, source address, username, password) it fetches the form for a CSRF token and
# posts it; it prints [status, Retry-After, the page's flash message] per attempt.
ATTACKER = r"""
import http.client, json, re, sys, urllib.parse
out = []
for base, source, username, password in json.loads(sys.argv[1]):
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), source_address=(source, 0), timeout=60)
    conn.request("GET", "/login")
    resp = conn.getresponse()
    page = resp.read().decode()
    cookie = resp.getheader("Set-Cookie").split(";")[0]
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"username": username, "password": password,
                                   "csrf_token": csrf, "next": ""})
    conn.request("POST", "/login", body, {"Cookie": cookie,
                 "Content-Type": "application/x-www-form-urlencoded"})
    resp = conn.getresponse()
    page = resp.read().decode()
    flash = re.search(r'class="flash error"[^>]*>([^<]*)<', page)
    out.append([resp.status, resp.getheader("Retry-After"), flash.group(1) if flash else ""])
    conn.close()
print(json.dumps(out))
"""


@pytest.fixture
def portal():
    """Two gunicorn servers (2 workers each) on one database; alice and carol exist."""
    host = PortalHost()
    try:
        host.init()
        for name in ("alice", "carol"):
            done = host.portal("user", "create", name, "--unix-user", name, "--password-stdin",
                               stdin=PASSWORD + "\n")
            assert done.returncode == 0, done.stderr
        yield host, [host.gunicorn(workers=2), host.gunicorn(workers=2)]
    finally:
        host.stop()  # the servers and the scratch tree, also when the set-up failed


def _bob_tries(plan: list[list[str]]) -> list[list]:
    done = as_user("bob", "python3", "-c", ATTACKER, json.dumps(plan))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _audit(host, action: str) -> list[dict]:
    engine = create_engine(host.url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT target, source_ip, details FROM audit_events "
                                 "WHERE action = :a ORDER BY id"), {"a": action}).all()
    engine.dispose()
    return [{"target": r[0], "source_ip": r[1], "details": json.loads(r[2])} for r in rows]


def test_guesses_across_processes_share_one_limit(portal):
    host, servers = portal
    # The attack: 14 wrong passwords from one address, then the right one,
    # alternating between the two servers.
    plan = [[servers[i % 2], "127.0.0.1", "alice", f"wrong guess {i}"] for i in range(14)]
    plan.append([servers[14 % 2], "127.0.0.1", "alice", PASSWORD])
    results = _bob_tries(plan)
    codes = [status for status, _retry, _flash in results]
    assert codes[:10] == [401] * 10
    assert codes[10:] == [429] * 5  # the right password too: the account is paused
    status, retry_after, flash = results[-1]
    assert "Too many failed logins" in flash and "try again in" in flash.lower()
    assert retry_after is not None and 1 <= int(retry_after) <= 15 * 60
    limited = _audit(host, "auth.login_limited")
    assert len(limited) == 5 and {e["target"] for e in limited} == {"alice"}
    assert limited[-1]["source_ip"] == "127.0.0.1"
    assert limited[-1]["details"]["failures"] >= 10
    assert len(_audit(host, "auth.login_failed")) == 10


def test_a_new_address_does_not_reset_the_account_limit(portal):
    host, servers = portal
    # Ten wrong passwords for alice, each from its own address (no address limit reached).
    plan = [[servers[i % 2], f"127.0.0.{10 + i}", "alice", f"wrong guess {i}"]
            for i in range(10)]
    # Then fresh addresses, with a wrong and with the right password.
    plan += [[servers[0], "127.0.0.50", "alice", "wrong again"],
             [servers[1], "127.0.0.51", "alice", PASSWORD]]
    # Another account from another fresh address is not affected.
    plan += [[servers[0], "127.0.0.52", "carol", PASSWORD]]
    results = _bob_tries(plan)
    codes = [status for status, _retry, _flash in results]
    assert codes == [401] * 10 + [429, 429, 302]
    assert "for this account" in results[11][2]
    limited = _audit(host, "auth.login_limited")
    assert [(e["target"], e["details"]["limit"]) for e in limited] == [("alice", "account")] * 2
    assert [e["source_ip"] for e in limited] == ["127.0.0.50", "127.0.0.51"]


def test_one_address_guessing_many_accounts_is_limited(portal):
    host, servers = portal
    # Spraying: one wrong password each for many names from one address.
    plan = [[servers[i % 2], "127.0.0.7", f"user{i}", "Winter2026!"] for i in range(10)]
    plan += [[servers[0], "127.0.0.7", "carol", PASSWORD]]
    results = _bob_tries(plan)
    assert [r[0] for r in results] == [401] * 10 + [429]
    assert "from your address" in results[-1][2]
    limited = _audit(host, "auth.login_limited")
    assert [(e["target"], e["details"]["limit"]) for e in limited] == [("carol", "address")]
    # Carol herself, from her own address, still gets in.
    assert _bob_tries([[servers[1], "127.0.0.8", "carol", PASSWORD]])[0][0] == 302
