"""F2/F13 in a real browser: the admin's QOS page and a manager's edit page.

sacctmgr is the in-memory stand-in of the unit tests (the integration tests use the real
one), so these check what a person sees and clicks.
"""

from __future__ import annotations

import pytest

from portal.services import projects
from tests.browser.steps import login
from tests.unit.projects.fake_accounts import FakeAccounts

pytestmark = pytest.mark.browser


@pytest.fixture
def fake(app):
    app.extensions["accounts"] = accounts = FakeAccounts()
    return accounts


def test_admin_manages_qos(make_user, live_server, page, fake, tmp_path):
    make_user("ada", admin=True)
    login(page, live_server, "ada")
    page.goto(f"{live_server}/projects/")
    page.click("text=QOS")
    page.fill("#name", "gpu-long")
    page.fill("#priority", "10")
    page.fill("#grp_gpus_by_model", "a100=2")
    page.fill("#max_wall_minutes", "2880")
    page.click("[data-testid=create-qos]")
    page.wait_for_selector("text=QOS gpu-long created.")
    row = page.locator("tr[data-qos=gpu-long]")
    assert "a100: 2" in row.inner_text() and "2880 min" in row.inner_text()
    assert fake.qos_defs["gpu-long"].grp_tres == {"gres/gpu:a100": 2}

    row.locator("[data-testid=edit-qos]").click()
    page.fill("#max_gpus_per_user", "1")
    page.click("[data-testid=save-qos]")
    page.wait_for_selector("text=QOS gpu-long saved.")
    assert fake.qos_defs["gpu-long"].max_tres_per_user == {"gres/gpu": 1}

    page.locator("tr[data-qos=normal] [data-testid=delete-qos]").click()
    page.wait_for_selector(".flash.error")
    assert "still used by root" in page.inner_text(".flash.error")
    page.screenshot(path=str(tmp_path / "qos.png"), full_page=True)
    page.locator("tr[data-qos=gpu-long] [data-testid=delete-qos]").click()
    page.wait_for_selector("text=QOS gpu-long deleted.")
    assert page.locator("tr[data-qos=gpu-long]").count() == 0


def test_manager_edits_the_project(app, make_user, live_server, page, fake, tmp_path):
    admin = make_user("ada", admin=True)
    make_user("mia", unix_user="daemon")
    make_user("max", unix_user="bin")
    make_user("otto", unix_user="sys")
    with app.test_request_context("/"):
        pid = projects.create_project(admin, account="tbrowse", name="Browser Project",
                                      settings={"gpu_limit": 4}, managers=["mia"],
                                      members=["max"]).id
    login(page, live_server, "mia")
    page.click("a[data-menu=projects]")
    page.wait_for_selector("[data-project=tbrowse]")
    assert "0 / 4" in " ".join(page.inner_text("[data-project=tbrowse] .quota").split())
    page.screenshot(path=str(tmp_path / "cards.png"))
    page.click("[data-project=tbrowse] h2 a")
    page.screenshot(path=str(tmp_path / "detail.png"), full_page=True)
    page.click("[data-testid=edit-project]")
    assert page.locator("tr[data-member=mia] [data-testid=demote]").is_disabled()

    page.fill("#name", "Renamed Project")
    page.click("[data-testid=save-details]")
    page.wait_for_selector("text=Project saved.")
    assert fake.accts["tbrowse"].description == "Renamed Project"

    page.fill("#username", "otto")
    page.select_option("#role", "manager")
    page.click("[data-testid=add-member]")
    page.wait_for_selector("tr[data-member=otto]")
    assert page.inner_text("tr[data-member=otto] [data-testid=role]") == "manager"
    assert "sys" in fake.accts["tbrowse"].coordinators

    page.locator("tr[data-member=max] [data-testid=remove]").click()
    page.wait_for_selector("text=Member removed.")
    assert page.locator("tr[data-member=max]").count() == 0
    page.fill("#username", "ghost")
    page.click("[data-testid=add-member]")
    page.wait_for_selector(".flash.error")
    assert "No user ghost." in page.inner_text(".flash.error")
    page.screenshot(path=str(tmp_path / "edit.png"), full_page=True)
    assert ("tbrowse", "bin") not in fake.assocs and pid
