"""Issue #16, item 8, in a real browser: an extension counts from the project's end date
(or from today once that date has passed), the member sees the date it would give when
asking, the admin sees it in the list before approving, and approving gives exactly that
date. If the end date moves between showing and approving, the approval is refused with
the new date and nothing changes. (sacctmgr is the unit tests' in-memory stand-in.)"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from portal import db
from portal.models import Project
from portal.services import projects
from tests.browser.steps import login
from tests.unit.projects.fake_accounts import FakeAccounts

pytestmark = pytest.mark.browser


def _logout(page, live_server):
    page.context.clear_cookies()


def _project(app, make_user, end: date) -> int:
    app.extensions["accounts"] = FakeAccounts()
    admin = make_user("ada", admin=True)
    make_user("max")
    with app.test_request_context("/"):
        project = projects.create_project(admin, account="tproj", name="Test Project",
                                          members=["max"],
                                          settings={"end_date": end.isoformat()})
        return project.id


def _ask(page, live_server, project_id: int, days: int) -> str:
    login(page, live_server, "max")
    page.goto(f"{live_server}/projects/{project_id}")
    page.fill("[data-testid=extension-form] [name=days]", str(days))
    page.click("[data-testid=extension-form] button[type=submit]")
    page.wait_for_selector("text=Extension requested.")
    shown = page.inner_text("[data-testid=extension-resulting]")
    _logout(page, live_server)
    return shown


def test_extension_counts_from_the_end_date_and_the_admin_sees_the_date(
        app, make_user, live_server, page):
    today = date.today()
    project_id = _project(app, make_user, today + timedelta(days=10))
    expected = (today + timedelta(days=40)).isoformat()
    assert expected in _ask(page, live_server, project_id, 30)

    login(page, live_server, "ada")
    page.goto(f"{live_server}/admin/projects")
    row = page.locator("[data-testid=pending-extensions] tr[data-request]")
    cell = row.locator("[data-testid=resulting-end-date]").inner_text()
    assert expected in cell and "30 days after the end date" in cell
    row.locator("[data-testid=approve]").click()
    page.wait_for_selector("text=Extension approved.")
    with app.app_context():
        assert db.session.get(Project, project_id).end_date.isoformat() == expected


def test_past_end_date_counts_from_today_and_a_moved_date_is_not_approved_blindly(
        app, make_user, live_server, page):
    today = date.today()
    project_id = _project(app, make_user, today - timedelta(days=5))
    assert (today + timedelta(days=7)).isoformat() in _ask(page, live_server, project_id, 7)

    login(page, live_server, "ada")
    page.goto(f"{live_server}/admin/projects")
    row = page.locator("[data-testid=pending-extensions] tr[data-request]")
    cell = row.locator("[data-testid=resulting-end-date]").inner_text()
    assert (today + timedelta(days=7)).isoformat() in cell and "from today" in cell

    with app.app_context():  # meanwhile another admin moves the end date
        db.session.get(Project, project_id).end_date = today + timedelta(days=20)
        db.session.commit()
    row.locator("[data-testid=approve]").click()
    page.wait_for_selector(".flash.error")
    message = page.inner_text(".flash.error")
    assert (today + timedelta(days=27)).isoformat() in message and "check the new date" in message
    with app.app_context():
        assert db.session.get(Project, project_id).end_date == today + timedelta(days=20)
    row = page.locator("[data-testid=pending-extensions] tr[data-request]")
    assert (today + timedelta(days=27)).isoformat() in row.locator(
        "[data-testid=resulting-end-date]").inner_text()
    row.locator("[data-testid=approve]").click()
    page.wait_for_selector("text=Extension approved.")
    with app.app_context():
        assert db.session.get(Project, project_id).end_date == today + timedelta(days=27)
