"""F11 in a real browser: the operation log's filters and CSV download, and the
cloud-platform page's Activate button (sacctmgr and the workspace faked as in the unit
tests; the real cluster is covered by tests/integration/account)."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest

from portal import db
from portal.models import AuditEvent
from tests.browser.steps import login

pytestmark = pytest.mark.browser


def _actions(page) -> list[str]:
    return page.locator("[data-testid=events] tbody tr[data-action]").evaluate_all(
        "rows => rows.map(r => r.dataset.action)")


def test_operation_log_filters_and_csv(app, make_user, live_server, page):
    ada = make_user("ada", admin=True)
    with app.app_context():
        ada = db.session.merge(ada)
        for i, (action, target) in enumerate([("job.create", "job:1"),
                                              ("key.delete", 'key:2, "old"\nline'),
                                              ("qos.create", "=cmd|' /C calc'!A0")]):
            db.session.add(AuditEvent(actor_id=ada.id, actor_name="ada", action=action,
                                      source_ip=f"10.0.0.{i}", target=target, details={},
                                      at=datetime(2026, 3, 1 + i, 10)))
        db.session.commit()
    login(page, live_server, "ada")
    page.click("nav >> text=Operation log")
    page.wait_for_selector("[data-testid=events]")
    assert "auth.login" in _actions(page) and "qos.create" in _actions(page)

    page.select_option("[data-testid=filter-action]", "key.delete")
    page.click("[data-testid=filter-apply]")
    page.wait_for_url("**action=key.delete**")
    assert _actions(page) == ["key.delete"]

    page.select_option("[data-testid=filter-action]", "")
    page.fill("[data-testid=filter-from]", "2026-03-02")
    page.fill("[data-testid=filter-to]", "2026-03-03")
    page.click("[data-testid=filter-apply]")
    page.wait_for_url("**from=2026-03-02**")
    assert _actions(page) == ["qos.create", "key.delete"]

    with page.expect_download() as info:
        page.click("[data-testid=csv]")
    rows = list(csv.reader(io.StringIO(open(info.value.path(), encoding="utf-8").read())))
    assert [r[3] for r in rows[1:]] == ["qos.create", "key.delete"]
    assert rows[1][4] == "'=cmd|' /C calc'!A0" and rows[2][4] == 'key:2, "old"\nline'

    page.fill("[data-testid=filter-from]", "2026-03-04")
    page.fill("[data-testid=filter-to]", "2026-03-01")
    page.click("[data-testid=filter-apply]")
    assert "reversed" in page.inner_text("[data-testid=filter-error]")


def test_activation_page_activates(app, make_user, live_server, page, monkeypatch):
    from adapters.unix import UnixAccount
    from portal.services import activation
    from tests.unit.account.conftest import UNIX as accounts
    from tests.unit.account.conftest import FakeWorkspaces

    app.config["ACTIVATION_REQUIRED"] = True
    table = dict(accounts, max=UnixAccount("max", 5002, 5002, "/home/max"))
    spaces = FakeWorkspaces(table)
    monkeypatch.setattr(activation.ws, "inspect", spaces.inspect)
    monkeypatch.setattr(activation.ws, "provision", spaces.provision)
    monkeypatch.setattr(activation.unix, "lookup", table.get)
    make_user("max", unix_user="max")
    login(page, live_server, "max")
    page.click("nav >> text=Cloud platform")
    assert "Not activated" in page.inner_text("[data-testid=activation-status]")
    assert page.get_attribute("tr[data-item=workspace]", "data-ok") == "no"
    page.click("[data-testid=activate]")
    page.wait_for_selector("text=Your cloud platform account is activated.")
    assert page.get_attribute("tr[data-item=workspace]", "data-ok") == "yes"
    assert "Activated" in page.inner_text("[data-testid=activation-status]")
    page.click("[data-testid=refresh]")
    page.wait_for_selector("text=Checked again.")
