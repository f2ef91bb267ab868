"""The steps that browser tests share: logging in and waiting for the worker's first look
at the cluster, written once so a change to the login page is fixed in one place."""

from __future__ import annotations

from portal import db
from portal.services import cluster
from tests.conftest import PASSWORD
from tests.support.waiting import wait_for


def login(page, live_server: str, username: str = "alice", password: str = PASSWORD):
    """Log `username` in through the login form; returns once the page shows who is in."""
    page.goto(f"{live_server}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("[data-testid=login-submit]")
    # Argon2 verification on a busy 2-core machine can take several seconds: the login
    # is given longer than the pages' default wait.
    page.wait_for_selector("[data-testid=current-user]", timeout=30_000)


def wait_for_cluster_view(timeout: float = 60.0):
    """Until the running worker has read the cluster once (needs an app context)."""
    wait_for(lambda: (db.session.rollback(), cluster.cached_view()["available"])[1],
             timeout, what="the worker's first look at the cluster")
