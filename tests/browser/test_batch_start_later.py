"""Issue #16 item 11 (leftover) in a real browser (fake Slurm): a manager's batch create can
start later. She picks "at" and a time; the confirmation says when each session starts;
every session is submitted with that start (sbatch --begin), and its page shows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portal import db
from portal.models import ProjectRole, Session
from portal.services import jobs as jobsvc
from portal.services import sessions as svc
from tests.browser.steps import login
from tests.unit.sessions.sessionfakes import (
    FakeFiles,
    FakeScheduler,
    FakeSshd,
    make_member,
    register_jupyter,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def fake(app, monkeypatch):
    app.config["IMAGE_CHECK_PATH"] = False
    backend = jobsvc.Backend(FakeScheduler(), FakeFiles())
    monkeypatch.setattr(svc, "get_backend", lambda: backend)
    monkeypatch.setattr(svc, "Sshd", FakeSshd)
    with app.test_request_context():
        ids = {"ursula": make_member("ursula").id,
               "mona": make_member("mona", role=ProjectRole.MANAGER).id}
        register_jupyter()
        db.session.remove()
    return backend, ids


def test_batch_create_starts_later(app, page, live_server, fake):
    backend, ids = fake
    login(page, live_server, "mona")

    local = (datetime.now() + timedelta(days=1)).replace(second=0, microsecond=0)
    page.goto(f"{live_server}/sessions/batch")
    page.fill("#name", "later")
    page.fill(f"input[name=count_{ids['ursula']}]", "2")
    page.check("input[name=allow_all]")
    page.check("[data-testid=start-at]")
    page.fill("[data-testid=begin_at]", local.strftime("%Y-%m-%dT%H:%M"))
    page.click("button[value=review]")
    page.wait_for_selector("[data-testid=starts]")  # the review page, not the form still
    utc = local.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    starts = page.locator("[data-testid=starts]").all_inner_texts()
    assert starts == [f"at {utc} UTC"] * 2

    page.click("[data-testid=create]")
    page.wait_for_url("**/sessions/")
    assert "2 sessions submitted." in page.inner_text("body")
    begins = {spec.begin.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
              for spec in backend.scheduler.specs.values()}
    assert begins == {utc} and len(backend.scheduler.specs) == 2
    with app.app_context():
        first = db.session.query(Session).filter_by(name="later-ursula-1").one().id
        db.session.remove()
    page.goto(f"{live_server}/sessions/{first}")
    assert f"{utc} UTC" in page.inner_text("body")

    # A start in the past is refused with words, nothing submitted.
    page.goto(f"{live_server}/sessions/batch")
    page.fill("#name", "past")
    page.fill(f"input[name=count_{ids['ursula']}]", "1")
    page.check("input[name=allow_all]")
    page.check("[data-testid=start-at]")
    page.fill("[data-testid=begin_at]", "2020-01-01T10:00")
    page.click("button[value=review]")
    assert "The start time is in the past." in page.inner_text("body")
    assert len(backend.scheduler.specs) == 2
