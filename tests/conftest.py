"""Shared fixtures: a real app on a fresh migrated SQLite database per test, and auth helpers."""

from __future__ import annotations

import os
import re
import sqlite3
from contextlib import closing

import pytest
from hypothesis import HealthCheck, settings

from adapters import dbdlock
from portal import create_app, db
from portal.config import Defaults
from portal.migrate import upgrade
from portal.services import users
from tests.support import slurmversion

PASSWORD = "correct horse battery"

# Property tests check what is generated, not how fast a loaded 2-core machine runs it: a
# per-example deadline or a "too slow" health check would fail by chance (issue #19).
settings.register_profile(
    "portal", deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("portal")

# Every test process serialises its sacctmgr changes through one lock, as portal processes
# do (adapters/dbdlock.py), also where a test builds an adapter without an app. The dev
# cluster is one per machine (/etc/slurm), and several checkouts may test against it at
# once, so as root the lock is machine-wide, in a root-only folder (never /tmp or
# /run/lock, where another user could plant a symlink); apps and portal processes the
# tests start read it from the environment (PORTAL_* config).
if os.geteuid() == 0:
    os.environ.setdefault("PORTAL_SLURMDBD_LOCK_FILE",
                          "/var/lib/slurm-gpu-portal-tests/slurmdbd-changes.lock")
dbdlock.use(os.environ.get("PORTAL_SLURMDBD_LOCK_FILE", Defaults.SLURMDBD_LOCK_FILE))
# PORTAL_TEST_SLURM=2411 (`make test-2411`): the integration tests talk to the Slurm 24.11
# dev cluster (`cluster.sh start-2411`) instead of 22.05's (tests/support/slurmversion.py).
if slurmversion.is_2411():
    slurmversion.use_2411()
# slurmdbd may keep a second cluster (the multi-node dev cluster, `cluster.sh start-multi`):
# apps the tests make change and read accounts on the one-node cluster only (SLURM_CLUSTER).
os.environ.setdefault("PORTAL_SLURM_CLUSTER", "devcluster")


def pytest_report_header(config):
    """Say which Slurm the integration tests talk to (or that none answers)."""
    from adapters.errors import AdapterError
    from adapters.scheduler import SlurmScheduler

    try:
        return f"slurm: {SlurmScheduler().version()} (dev cluster)"
    except (AdapterError, OSError) as exc:
        return f"slurm: not reachable ({exc})"


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory):
    """A SQLite database that the migrations brought to head, once per test process: each
    test gets a copy of it. Running the 40-odd migrations for every test took 0.5–3 s a
    test, most of the unit tests' time (issue #19); test_migrations.py still runs them."""
    path = tmp_path_factory.mktemp("schema") / "migrated.db"
    upgrade(f"sqlite:///{path}")
    return path


def _copy_sqlite(source, target) -> None:
    """Through SQLite's backup API, which copies a consistent database (a WAL included)."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


@pytest.fixture
def app(tmp_path, request):
    url = os.environ.get("PORTAL_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'portal.db'}"
    if "PORTAL_TEST_DATABASE_URL" in os.environ:
        _empty_database(url)  # e.g. PostgreSQL: one database, emptied before each test
        upgrade(url)
    else:
        _copy_sqlite(request.getfixturevalue("migrated_sqlite"), tmp_path / "portal.db")
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": url,
            "SESSION_COOKIE_SECURE": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            # Fake clusters: the activation checks (F11) are tested with it switched on.
            "ACTIVATION_REQUIRED": False,
        }
    )
    # No app context stays pushed: each test request must get its own `g`, as in production.
    yield app
    db.session.remove()


def _empty_database(url: str) -> None:
    from sqlalchemy import MetaData, create_engine

    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    meta.drop_all(engine)
    engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(app):
    def _make(username="ursula", *, admin=False, unix_user="nobody", password=PASSWORD):
        with app.app_context():
            user, _ = users.create_user(
                username, unix_user=unix_user, password=password, is_admin=admin
            )
        return user

    return _make


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


class Auth:
    """Logs a test client in and out through the real forms (CSRF included)."""

    def __init__(self, client):
        self.client = client

    def login(self, username="ursula", password=PASSWORD, next_url=""):
        page = self.client.get("/login" + (f"?next={next_url}" if next_url else ""))
        token = csrf_from(page.get_data(as_text=True))
        return self.client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token,
                  "next": next_url},
        )

    def csrf(self, path="/settings/"):
        return csrf_from(self.client.get(path).get_data(as_text=True))

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": self.csrf()})


@pytest.fixture
def auth(client):
    return Auth(client)
