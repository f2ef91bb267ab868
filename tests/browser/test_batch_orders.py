"""Issue #16 item 1 in the browser against the dev cluster: a manager batch-creates a session
for herself and one for a member; each session is exactly one order (the member's is the
member's), and once the sessions have run, the wallet's charge for each Slurm job links to
its order (the wallet page's "order N" opens that order)."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import select

from adapters.runner import CommandRunner
from portal import db, worker
from portal.models import Order, ProjectRole, Session, WalletTransaction
from portal.services import public_images
from tests.browser.steps import login
from tests.integration.sessions.sessionhelpers import JUPYTER_IMAGE, remove_session_dirs
from tests.support.members import add_member
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def people(app):
    with app.app_context():
        alice = add_member("alice", "proja", role=ProjectRole.MANAGER)
        bob = add_member("bob", "proja")
        public_images.register_image("jupyter", JUPYTER_IMAGE, framework="Python 3 / Jupyter")
        ids = {"alice": alice.id, "bob": bob.id, "project": alice.current_project_id}
        db.session.remove()
    thread = threading.Thread(target=worker.run_cycle, args=(app,))  # the cluster cache
    thread.start()
    thread.join(timeout=120)
    yield ids
    with app.app_context():
        for jid in db.session.scalars(select(Session.slurm_job_id)):
            if jid:
                CommandRunner().run(["scancel", "--", jid], check=False)
        db.session.remove()
    remove_session_dirs(app)


def _ran_seconds(job_id: str) -> int:
    """How long Slurm says the job has been running (0 when not running)."""
    out = CommandRunner().run(["squeue", "-h", "-j", job_id, "-o", "%T %M"], check=False)
    state, _, used = out.stdout.strip().partition(" ")
    if state != "RUNNING":
        return 0
    seconds = 0
    for part in used.replace("-", ":").split(":"):
        seconds = seconds * 60 + int(part or 0)
    return seconds


def test_batch_created_sessions_are_orders_and_their_charges_link(
        app, people, running_worker, live_server, page):  # noqa: F811 - the fixture
    name = "bo" + uuid.uuid4().hex[:6]
    login(page, live_server, "alice")

    page.goto(f"{live_server}/sessions/batch")
    page.fill("#name", name)
    page.fill(f"input[name=count_{people['alice']}]", "1")
    page.fill(f"input[name=count_{people['bob']}]", "1")
    page.fill("#gpu_count", "0")
    page.fill("#cpus", "1")
    page.fill("#mem_gb", "1")
    page.fill("#hours", "1")
    page.check("input[name=allow_all]")
    page.click("button[value=review]")
    page.wait_for_selector("[data-testid=batch-summary]")
    page.click("[data-testid=create]")
    page.wait_for_url("**/sessions/")
    assert "2 sessions submitted." in page.inner_text("body")

    # Each session is exactly one order, owned by the session's owner.
    page.goto(f"{live_server}/orders/")
    for owner in ("alice", "bob"):
        rows = page.locator(f"tr:has-text('{name}-{owner}-1')")
        assert rows.count() == 1, f"{owner}'s session should be one order"
        assert owner in rows.inner_text()
    with app.app_context():
        sessions = list(db.session.scalars(select(Session).where(
            Session.name.like(f"{name}-%"))))
        orders = {o.ref_id: o for o in db.session.scalars(select(Order).where(
            Order.kind == "session"))}
        jobs = {s.slurm_job_id: orders[s.id].id for s in sessions}
        assert len(sessions) == 2 and all(jobs)
        db.session.remove()

    # Let them run a few seconds (a charge is for time used), end them, and wait for the
    # worker to charge them.
    for jid in jobs:
        wait_for(lambda jid=jid: _ran_seconds(jid) >= 3, what=f"job {jid} to run 3 s", timeout=180)
    for jid in jobs:
        CommandRunner().run(["scancel", "--", jid], check=False)

    def charges():
        with app.app_context():
            found = {t.job_id: t.order_id for t in db.session.scalars(select(
                WalletTransaction).where(WalletTransaction.job_id.in_(list(jobs))))}
            db.session.remove()
        return found if len(found) == len(jobs) else None

    linked = wait_for(charges, what="the wallet to charge both sessions", timeout=300, step=2)
    assert linked == jobs  # every charge points at its session's order

    page.goto(f"{live_server}/wallet/{people['project']}")
    for order_id in jobs.values():
        link = page.locator(f"a:has-text('order {order_id}')").first
        assert link.count() == 1
    link.click()
    assert f"#{order_id}" in page.inner_text("h1")
