"""Issue #16 item 4 in the browser against the dev cluster: ended and deleted sessions and jobs
keep a read-only page — history, events, what they cost and, for a job, its log — so the
order's "details" link and the wallet's order link still lead somewhere.

alice runs a job through Run job, waits for it to finish and deletes it: its page still
opens (read-only, no Delete button) with the log and its order; the order's link leads
back. alice's session, deleted, keeps its page with the order and what it was charged.
bob, the project's manager, follows the order of alice's job to its page (without the log:
that is alice's file)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from adapters.runner import CommandRunner
from portal import db
from portal.models import Job, ProjectRole, Session
from portal.services import public_images, users
from portal.services import sessions as sessionsvc
from tests.browser.steps import login
from tests.integration.sessions.sessionhelpers import JUPYTER_IMAGE, remove_session_dirs
from tests.support.members import add_member
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def people(app):
    with app.app_context():
        add_member("alice", "proja")
        add_member("bob", "proja", role=ProjectRole.MANAGER)
        public_images.register_image("jupyter", JUPYTER_IMAGE, framework="Python 3 / Jupyter")
        db.session.remove()
    yield
    with app.app_context():
        for model in (Job, Session):
            for jid in db.session.scalars(select(model.slurm_job_id)):
                if jid:
                    CommandRunner().run(["scancel", "--", jid], check=False)
        db.session.remove()
    remove_session_dirs(app)


def _login(page, live_server, name):
    page.context.clear_cookies()
    login(page, live_server, name)


def _row(app, model, **where):
    with app.app_context():
        row = db.session.scalar(select(model).filter_by(**where))
        db.session.expunge_all()
        db.session.remove()
    return row


def test_ended_job_and_session_keep_a_read_only_page(app, people, running_worker,  # noqa: F811
                                                     live_server, page):
    name = "ep" + uuid.uuid4().hex[:6]
    _login(page, live_server, "alice")
    wait_for(lambda: page.goto(f"{live_server}/jobs/new") and page.locator(
        "[data-testid=gpu-model] option").count(), what="the cluster view", timeout=60)
    page.fill("[data-testid=job-name]", name)
    page.fill("[data-testid=gpu-count]", "0")
    page.fill("[data-testid=cpus]", "1")
    page.fill("[data-testid=mem]", "1")
    page.fill("[data-testid=command]", "echo hello-from-the-record; sleep 2")
    page.click("[data-testid=submit-job]")
    page.wait_for_selector("[data-testid=slurm-job-id]")
    job_url = page.url
    wait_for(lambda: _row(app, Job, name=name).state == "completed", 180, step=1,
             what="the job to finish")

    # Deleted: the page stays, read-only, with its log, events, order and cost.
    page.goto(job_url)
    page.click("[data-testid=delete-job]")
    page.goto(job_url)
    assert "This job was deleted: this page is its read-only record." in page.inner_text(
        "[data-testid=read-only]")
    assert page.locator("[data-testid=delete-job]").count() == 0
    page.wait_for_function(
        "document.querySelector('[data-testid=job-log]').textContent"
        ".includes('hello-from-the-record')")
    history = page.inner_text("[data-testid=record-history]")
    assert "Created" in history and "Deleted" in history and "Ended" in history
    wait_for(lambda: page.goto(job_url) and "per hour" in page.inner_text(
        "[data-testid=record-cost]") or "s used" in page.inner_text("[data-testid=record-cost]"),
        what="the wallet to charge the job", timeout=180, step=2)
    page.click("[data-testid=record-order] a")
    assert name in page.inner_text("h1")
    page.click("a:has-text('details')")  # the order's link back to the job
    assert page.url == job_url and name in page.inner_text("h1")

    # A session, deleted: its page stays with the order and what it was charged.
    with app.test_request_context():
        alice = users.get_user("alice")
        session = sessionsvc.create_session(alice, {
            "name": f"{name}-s", "image": "jupyter", "cpus": "1", "mem_gb": "1",
            "allow_all": True, "end": "hours", "hours": "1"})
        session_id, slurm_id = session.id, session.slurm_job_id
        db.session.remove()
    session_url = f"{live_server}/sessions/{session_id}"
    wait_for(lambda: _row(app, Session, id=session_id).state == "running", 180, step=1,
             what="the session to run")
    page.goto(f"{live_server}/sessions/delete?ids={session_id}")
    page.click("[data-testid=confirm-delete]")
    wait_for(lambda: _row(app, Session, id=session_id).hidden, 120, what="the session to end")
    response = page.goto(session_url)
    assert response.status == 200
    assert "This session has ended" in page.inner_text("[data-testid=read-only]")
    assert page.locator("[data-testid=delete]").count() == 0
    assert "Deleted" in page.inner_text("[data-testid=record-history]")
    assert slurm_id in page.inner_text("[data-testid=deployment-id]")
    wait_for(lambda: page.goto(session_url) and "s used" in page.inner_text(
        "[data-testid=record-cost]"), what="the wallet to charge the session", timeout=180, step=2)
    page.click("[data-testid=record-order] a")
    page.click("a:has-text('details')")
    assert page.url == session_url

    # The manager follows the order of alice's job to its page: read-only, no log.
    _login(page, live_server, "bob")
    page.goto(f"{live_server}/orders/")
    page.locator("tr", has_text=name).filter(has_not_text=f"{name}-s").locator(
        "td a").first.click()
    page.click("a:has-text('details')")
    assert page.url == job_url
    assert "Read-only" in page.inner_text("[data-testid=read-only]") or "deleted" in \
        page.inner_text("[data-testid=read-only]")
    assert page.locator("[data-testid=job-log]").count() == 0
    assert page.locator("[data-testid=record-order] a").count() == 1
