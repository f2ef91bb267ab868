"""Issue #12 finding 4: the portal's database, secret key and logs, seen from other users.

Before: `var/portal.db` (+ -wal, -shm) and `var/access.log` were 0644, so
`runuser -u bob -- sqlite3 var/portal.db 'select password_hash from users'` printed every
argon2 hash (and the token hashes and the audit log), and the access log kept tokens sent
in query strings. Now the state lives in `var/portal` (0700, files 0600), the app refuses
to start when it is open to others, and the access log redacts credentials.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from portal.config import REPO_ROOT
from tests.security.portal_host import PortalHost, as_user

pytestmark = pytest.mark.integration


@pytest.fixture
def host():
    host = PortalHost()
    try:
        host.init()
        yield host
    finally:
        host.stop()


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _fail_a_login(base: str) -> None:
    """One wrong password through the real form: the database gets a write (and a WAL)."""
    import http.cookiejar
    import re
    import urllib.parse

    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(base + "/login", timeout=30).read().decode()
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"username": "alice", "password": "wrong password!",
                                   "csrf_token": csrf, "next": ""}).encode()
    try:
        opener.open(base + "/login", data=body, timeout=30)
    except urllib.error.HTTPError as err:
        assert err.code == 401


def test_bob_cannot_read_the_database_secret_or_credentials(host):
    done = host.portal("user", "create", "alice", "--unix-user", "alice")
    assert done.returncode == 0, done.stderr
    base = host.gunicorn()
    _fail_a_login(base)  # gunicorn now holds the database open: -wal and -shm exist
    assert (host.state / "portal.db-wal").exists() and (host.state / "portal.db-shm").exists()

    # Control: the same command does read a database whose mode lets it (bob has sqlite3).
    (host.var / "images").mkdir(mode=0o755)
    os.chmod(host.var / "images", 0o755)
    exposed = host.var / "images" / "copy.db"
    subprocess.run(["sqlite3", str(host.db), f".backup {exposed}"], check=True)
    # (Out of WAL mode: a WAL reader needs to write the -shm file next to the copy.)
    subprocess.run(["sqlite3", str(exposed), "PRAGMA journal_mode=DELETE"], check=True,
                   capture_output=True)
    os.chmod(exposed, 0o644)
    control = as_user("bob", "sqlite3", str(exposed), "select password_hash from users")
    assert control.returncode == 0 and "$argon2" in control.stdout
    exposed.unlink()

    # The attack from the issue, and its siblings, against the portal's own files.
    stolen = as_user("bob", "sqlite3", str(host.db), "select password_hash from users")
    assert stolen.returncode != 0 and "argon2" not in stolen.stdout
    for name in ("portal.db", "portal.db-wal", "portal.db-shm", "secret_key",
                 "admin-credentials", "access.log", "gunicorn.log"):
        attempt = as_user("bob", "cat", str(host.state / name))
        assert attempt.returncode != 0 and attempt.stdout == "", name
    assert as_user("bob", "ls", str(host.state)).returncode != 0

    assert _mode(host.state) == 0o700
    for name in ("portal.db", "portal.db-wal", "portal.db-shm", "secret_key",
                 "admin-credentials"):
        assert _mode(host.state / name) == 0o600, name
    assert list(host.tmpdir.iterdir()) == []  # nothing of it went to the shared /tmp


@pytest.mark.parametrize("target, mode, fix", [
    ("portal.db", 0o644, "chmod 600"),
    ("secret_key", 0o640, "chmod 600"),
    (".", 0o755, "chmod 700"),
])
def test_portal_refuses_to_start_when_its_state_is_open(host, target, mode, fix):
    path = (host.state / target).resolve()
    os.chmod(path, mode)
    # The CLI and worker (one app factory) …
    cli = host.portal("db", "upgrade")
    assert cli.returncode == 1
    assert "Refusing to start" in cli.stderr and f"{fix} {path}" in cli.stderr
    # … and gunicorn's entry point.
    wsgi = subprocess.run([sys.executable, "-c", "import portal.wsgi"], cwd=REPO_ROOT,
                          env=host.env(), capture_output=True, text=True, timeout=120)
    assert wsgi.returncode != 0 and f"{fix} {path}" in wsgi.stderr
    os.chmod(path, 0o700 if path.is_dir() else 0o600)
    assert host.portal("db", "upgrade").returncode == 0


def test_portal_refuses_a_config_file_others_can_read_with_a_password_in_it(host):
    config = host.root / "none"  # PORTAL_CONFIG of this host
    config.write_text(f'database_url = "sqlite:///{host.db}"\n'
                      'trusted_proxy_count = 0\n')
    os.chmod(config, 0o644)
    assert host.portal("db", "upgrade").returncode == 0  # no secret in it: fine
    config.write_text('database_url = "postgresql+psycopg2://portal:s3cret@127.0.0.1/p"\n')
    done = host.portal("db", "upgrade")
    assert done.returncode == 1 and f"chmod 640 {config}" in done.stderr
    assert "s3cret" not in done.stderr


def test_bob_cannot_read_the_access_log_and_it_holds_no_credentials(host):
    # A log format that shows everything: request line, query, referer, auth headers.
    fmt = '%(h)s "%(r)s" %(q)s "%(f)s" %({authorization}i)s %({cookie}i)s %(s)s'
    base = host.gunicorn(access_format=fmt)
    secrets = ["gpp_SECRETtokenA", "SECRETjupyterB", "SECRETpasswordC", "gpp_SECRETbearerD"]
    request = urllib.request.Request(
        f"{base}/api/v1/me?access_token={secrets[0]}&token={secrets[1]}"
        f"&password={secrets[2]}&page=2",
        headers={"Authorization": f"Bearer {secrets[3]}", "Cookie": "session=SECRETcookieE",
                 "Referer": f"{base}/s/1/lab?token={secrets[1]}"})
    try:
        urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as err:
        assert err.code == 401
    log = host.state / "access.log"
    deadline = time.monotonic() + 10  # gunicorn writes the line after the response
    while "page=2" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    text = log.read_text()
    assert "page=2" in text and "[redacted]" in text
    for secret in secrets + ["SECRETcookieE"]:
        assert secret not in text
    attempt = as_user("bob", "cat", str(log))
    assert attempt.returncode != 0 and attempt.stdout == ""
    assert list(host.tmpdir.iterdir()) == []
