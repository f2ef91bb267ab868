"""Issue #17 item 5 in the browser on the dev cluster: the owner opens a new Jupyter
session's page and, without touching it, watches the four stages (queued, started by
Slurm, container up, app answering) fill in with their times; the same card reads in
zh-TW in the dark theme."""

from __future__ import annotations

import uuid

import pytest

from portal import db
from portal.models import Session, User
from portal.services import public_images, sessions, users
from tests.browser.steps import login, wait_for_cluster_view
from tests.integration.sessions.sessionhelpers import JUPYTER_IMAGE, remove_session_dirs
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_the_session_page_shows_its_stages_as_they_happen(app, running_worker, alice,
                                                          live_server, page):
    with app.test_request_context():
        public_images.register_image("jupyter", JUPYTER_IMAGE, framework="Python 3 / Jupyter")
        wait_for_cluster_view()
        created = sessions.create_session(users.get_user("alice"), {
            "name": "stg" + uuid.uuid4().hex[:6], "image": "jupyter", "end": "hours",
            "hours": 1, "cpus": 1, "mem_gb": 1, "ssh_auth": "none", "allow_all": True})
        session_id = created.id
        db.session.remove()
    try:
        login(page, live_server, "alice")
        page.goto(f"{live_server}/sessions/{session_id}")
        # The page reloads itself each second while the session comes up, so the card is
        # waited for, not looked at once (a look between two loads saw no card).
        page.wait_for_selector("[data-testid=ready-stages]")
        page.wait_for_selector("[data-testid=stage-app][data-reached=true]", timeout=120_000)
        labels = [page.inner_text(f"[data-testid=stage-{s}] strong")
                  for s in ("queued", "started", "container", "app")]
        assert labels == ["Queued", "Started by Slurm", "Container up", "App answering"]
        for stage in ("queued", "started", "container", "app"):
            assert "UTC" in page.inner_text(f"[data-testid=stage-{stage}]")
        assert "after you asked for it" in page.inner_text("[data-testid=time-to-ready]")
        assert page.locator("[data-testid=jupyter-link]").is_visible()

        with app.app_context():
            user = db.session.query(User).filter_by(username="alice").one()
            user.locale, user.theme = "zh_TW", "dark"
            db.session.commit()
        page.reload()
        page.wait_for_selector("html[data-theme=dark]")
        text = page.inner_text("[data-testid=ready-stages]")
        assert "就緒所需時間" in text and "應用程式已回應" in text and "容器已啟動" in text
        colors = page.eval_on_selector("[data-testid=stage-app]", """(el) => {
            const s = getComputedStyle(el);
            return [s.color, s.backgroundColor];
        }""")
        assert colors[0] != colors[1]  # readable in the dark theme
    finally:
        with app.test_request_context():
            sessions.delete_session(users.get_user("alice"), session_id)
            db.session.remove()

        def ended():
            with app.app_context():
                state = db.session.get(Session, session_id).state
                db.session.remove()
                return state in ("ended", "failed")

        wait_for(ended, what="the session to end", timeout=120)
        remove_session_dirs(app)
