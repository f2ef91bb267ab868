"""Issue #12 finding 3 in a real browser (fake Slurm): a member sees the card for sessions
a manager asked for with a custom image — who asked, which image, built by whom from which
session — declines one (nothing submitted) and accepts the other (submitted as them)."""

from __future__ import annotations

import pytest

from portal import db
from portal.models import CustomImage, ProjectRole
from portal.services import image_store, sessionbatch, users
from portal.services import jobs as jobsvc
from portal.services import sessions as svc
from tests.browser.steps import login
from tests.support.members import ensure_project
from tests.unit.sessions.sessionfakes import (
    FakeFiles,
    FakeScheduler,
    FakeSshd,
    make_member,
    session_data,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def asked(app, monkeypatch, tmp_path):
    """ursula (member) and mona (manager) in proja; mona asked for two sessions for ursula
    from her custom image "tools:v1" (its file sealed in the store, issue #12 finding 1)."""
    app.config["IMAGE_CHECK_PATH"] = False
    app.config["IMAGE_STORE"] = str(tmp_path / "store")
    fake = jobsvc.Backend(FakeScheduler(), FakeFiles())
    monkeypatch.setattr(svc, "get_backend", lambda: fake)
    monkeypatch.setattr(svc, "Sshd", FakeSshd)
    with app.test_request_context():
        make_member("ursula")
        mona = make_member("mona", role=ProjectRole.MANAGER)
        stored = image_store.store_file("proja", "1-tools-v1.sqfs",
                                        lambda sink: sink(b"hsqs-pretend-image"))
        db.session.add(CustomImage(
            project_id=ensure_project("proja").id, owner_unix="nobody", name="tools", tag="v1",
            display_name="Course tools", services=["jupyter", "webterm"], state="ready",
            path=stored.path, digest=stored.digest, created_by_id=mona.id,
            session_name="mona-src", runtime="charliecloud"))
        db.session.commit()
        created = sessionbatch.batch_create(
            users.get_user("mona"),
            session_data(name="course", image="tools:v1", image_type="custom"), {"ursula": 2})
        ids = [s.id for s in created]
        db.session.remove()
    return fake, ids


def test_member_declines_one_and_accepts_the_other(page, live_server, asked):
    fake, (first, second) = asked
    login(page, live_server, "ursula")
    page.goto(f"{live_server}/sessions/")
    cards = page.locator("[data-testid=acceptance]")
    assert cards.count() == 2
    text = page.locator(f"[data-testid=acceptance][data-session-id='{first}'] "
                        "[data-testid=acceptance-text]").inner_text()
    assert "mona asked to start the session course-ursula-1 for you with the image " \
           "Course tools." in text
    assert "built by mona from the session mona-src" in text
    assert fake.scheduler.specs == {}
    page.click(f"[data-testid=acceptance][data-session-id='{first}'] [data-testid=decline]")
    assert "Declined: nothing was started." in page.inner_text("body")
    assert page.locator("[data-testid=acceptance]").count() == 1
    assert fake.scheduler.specs == {}
    page.click(f"[data-testid=acceptance][data-session-id='{second}'] [data-testid=accept]")
    page.wait_for_url(f"**/sessions/{second}")
    assert "submitted (Slurm job" in page.inner_text("body")
    assert list(fake.scheduler.as_users.values()) == ["nobody"]
    page.goto(f"{live_server}/sessions/")
    assert page.locator("[data-testid=acceptance]").count() == 0


def test_the_manager_sees_it_waiting(page, live_server, asked):
    _fake, (first, _second) = asked
    login(page, live_server, "mona")
    page.goto(f"{live_server}/sessions/{first}")
    text = page.inner_text("[data-testid=acceptance-text]")
    assert "Waiting for ursula to accept" in text
    assert page.locator("[data-testid=accept]").count() == 0
    assert "awaiting the owner's acceptance" in page.inner_text("[data-testid=state]")
