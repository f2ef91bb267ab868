"""F4 in a real browser on the dev cluster: from a running session's page, "Create custom
image", a bad name refused with the rule, then the build's progress page until it is
ready, and the image in the Custom images list (menu) and in the create form."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid

import pytest

from adapters.factory import make_scheduler
from adapters.runner import CommandRunner
from portal import db, worker
from portal.models import Session
from portal.services import sessions
from tests.browser.steps import login
from tests.integration.sessions.sessionhelpers import remove_session_dirs, wait_for
from tests.support.members import add_member

pytestmark = [pytest.mark.browser, pytest.mark.integration,
              pytest.mark.xdist_group("custom-images-browser")]


def _cycle(app):
    thread = threading.Thread(target=worker.run_cycle, args=(app,))
    thread.start()
    thread.join(timeout=60)


@pytest.fixture
def setup(app):
    store = tempfile.mkdtemp(prefix="portal-images-")
    os.chmod(store, 0o755)
    app.config["IMAGE_STORE"] = os.path.join(store, "store")
    name = "bi" + uuid.uuid4().hex[:8]
    with app.test_request_context():
        alice = add_member("alice", "proja")
        _cycle(app)
        session = sessions.create_session(alice, {
            "name": name, "image": "base", "end": "hours", "hours": 1, "cpus": 1,
            "mem_gb": 1, "allow_all": True, "writable": True})
        session_id = session.id
        db.session.remove()
    yield session_id
    runner = CommandRunner()
    for job in make_scheduler(app.config).info_all(user="alice"):
        if job.name == name and not job.state.is_terminal:
            runner.run(["scancel", "--", job.id], as_user="alice", check=False)
    remove_session_dirs(app)
    shutil.rmtree(store, ignore_errors=True)


def _state(app, session_id):
    with app.app_context():
        state = db.session.get(Session, session_id).state
        db.session.remove()
    return state


def test_commit_form_progress_and_list(app, live_server, page, tmp_path, setup):
    session_id = setup
    login(page, live_server, "alice")
    page.goto(f"{live_server}/sessions/{session_id}")
    wait_for(lambda: page.goto(f"{live_server}/sessions/{session_id}") and
             _state(app, session_id) == "running", 120, step=1, what="the session to run")
    page.click("[data-testid=create-image]")
    page.wait_for_selector("[data-testid=commit-form]")
    page.fill("#name", "Not Valid")
    page.fill("#display_name", "Browser tools")
    page.click("[data-testid=commit]")
    assert "1–40 characters" in page.inner_text(".flash.error")
    page.fill("#name", "browser-tools")
    page.fill("#tag", "v1")
    page.click("[data-testid=commit]")
    page.wait_for_selector("[data-testid=image-progress]")
    page.screenshot(path=str(tmp_path / "image-progress.png"))
    _cycle(app)  # the worker starts the build; the page reloads itself until it is ready
    page.wait_for_selector("[data-testid=image-progress][data-state=ready]", timeout=120_000)
    page.click("nav.sidemenu >> text=Custom images")
    row = page.inner_text("[data-image='browser-tools:v1']")
    assert "ready" in row and "MiB" in row and "alice" in row
    page.screenshot(path=str(tmp_path / "custom-images.png"))
    assert os.path.getsize(tmp_path / "custom-images.png") > 1000
    # the create form's framework list: custom images when "Custom image" is chosen
    page.goto(f"{live_server}/sessions/new")
    custom = page.locator("[data-testid=image] option[value='browser-tools:v1']")
    assert custom.count() == 1 and custom.is_disabled()
    page.select_option("#image_type", "custom")
    assert not custom.is_disabled()
    assert page.locator("[data-testid=image] option[value='base']").is_disabled()
    assert page.input_value("[data-testid=image]") == "browser-tools:v1"
    # "Keep changes to the container": off by default, said in the summary when ticked
    writable = page.locator("[data-testid=writable]")
    assert writable.is_visible() and not writable.is_checked()
    assert "custom image" in page.inner_text("label:has([data-testid=writable])")
    page.fill("[data-testid=name]", "ticked")
    writable.check()
    page.check("[data-testid=allow_all]")
    page.click("[data-testid=review]")
    page.wait_for_selector("[data-testid=summary], .flash.error")
    assert page.locator(".flash.error").count() == 0, page.inner_text(".flash.error")
    summary = page.inner_text("[data-testid=summary]")
    assert "Keep changes to the container" in summary and "yes" in summary
