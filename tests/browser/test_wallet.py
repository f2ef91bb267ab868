"""F11 wallet in a real browser: the menu item, an admin's top-up, and the filters by
time range, transaction type and service type (sacctmgr is the unit tests' stand-in)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal import db
from portal.models import WalletTransaction
from portal.services import projects
from portal.services import wallet as svc
from tests.browser.steps import login
from tests.unit.projects.fake_accounts import FakeAccounts
from tests.unit.wallet.conftest import record

pytestmark = pytest.mark.browser


def _rows(page) -> list[str]:
    return page.locator("[data-testid=transactions] tbody tr[data-kind]").evaluate_all(
        "rows => rows.map(r => r.dataset.job || r.dataset.kind)")


def test_wallet_top_up_and_filters(app, make_user, live_server, page, tmp_path):
    app.extensions["accounts"] = FakeAccounts()
    admin = make_user("ada", admin=True)
    make_user("max", unix_user="bin")
    with app.test_request_context("/"):
        project = projects.create_project(admin, account="tproj", name="Test Project",
                                          members=["max"])
        record(201, service="job", billing=10, elapsed=3600)
        record(202, service="session", billing=20, elapsed=1800)
        record(203, service="schedule", billing=5, elapsed=600)
        svc.charge_finished()
        db.session.add(WalletTransaction(
            project_id=project.id, account="tproj", kind="topup", amount=3,
            occurred_at=db.utcnow() - timedelta(days=40), note="last month"))
        db.session.commit()
        project_id = project.id

    login(page, live_server, "ada")
    page.click("nav >> text=Wallet")
    page.click("tr[data-project=tproj] >> text=Test Project")
    page.fill("#amount", "ten")
    page.click("[data-testid=topup-submit]")
    page.wait_for_selector("text=The amount must be a number")
    page.fill("#amount", "25")
    page.fill("#note", "grant 7")
    page.click("[data-testid=topup-submit]")
    page.wait_for_selector("text=Top-up recorded.")
    assert page.inner_text("[data-testid=balance]") == "27.79"  # 28 − (0.1 + 0.1 + 0.0083)
    assert len(_rows(page)) == 5

    page.select_option("[data-testid=filter-service]", "session")
    page.click("[data-testid=filter-apply]")
    page.wait_for_url("**service=session**")
    assert _rows(page) == ["202"]

    page.select_option("[data-testid=filter-service]", "")
    page.select_option("[data-testid=filter-type]", "topup")
    page.click("[data-testid=filter-apply]")
    page.wait_for_url("**type=topup**")
    assert _rows(page) == ["topup", "topup"]

    today = db.utcnow().date()
    page.fill("[data-testid=filter-from]", (today - timedelta(days=1)).isoformat())
    page.click("[data-testid=filter-apply]")
    page.wait_for_url("**from=**")
    assert _rows(page) == ["topup"]
    assert "grant 7" in page.inner_text("[data-testid=transactions]")

    page.select_option("[data-testid=filter-type]", "")
    page.fill("[data-testid=filter-from]", today.isoformat())
    page.fill("[data-testid=filter-to]", (today - timedelta(days=5)).isoformat())
    page.click("[data-testid=filter-apply]")
    page.wait_for_selector("[data-testid=filter-error]")
    assert "The start date is after the end date." in page.inner_text(
        "[data-testid=filter-error]")
    page.click("text=Clear")
    page.wait_for_url(f"**/wallet/{project_id}")
    page.screenshot(path="/tmp/h/wallet.png", full_page=True)
    assert len(_rows(page)) == 5
