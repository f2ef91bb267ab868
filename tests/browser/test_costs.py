"""F11 cost analysis in chromium: the charts render (chart.js from our origin), the filters
work, a reversed range answers with a message, the CSV downloads; admins set a price."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from portal import db
from portal.models import AccountingRecord
from tests.browser.steps import login

pytestmark = pytest.mark.browser


def _records(app):
    end = datetime.utcnow().replace(microsecond=0) - timedelta(days=1)
    with app.app_context():
        for i, (account, model, service, billing) in enumerate([
                ("proja", "a100", "job", 11), ("proja", None, "session", 1),
                ("projb", "a100", "schedule", 21), ("projb", None, "shell", 2)]):
            db.session.add(AccountingRecord(
                job_id=str(9000 + i), user="alice", account=account, partition="gpu",
                qos="normal", state="COMPLETED", start_at=end - timedelta(hours=2),
                end_at=end - timedelta(days=40 * i), elapsed_s=7200, alloc_cpus=1,
                alloc_gpus=1 if model else 0, gpu_model=model, billing=billing, comment="",
                service=service))
        db.session.commit()


def test_cost_charts_render(app, make_user, live_server, page, tmp_path):
    make_user("root_admin", admin=True)
    _records(app)
    login(page, live_server, "root_admin")
    page.click("nav.sidemenu [data-menu=cost-analysis]")
    page.wait_for_selector("[data-testid=cost-chart][data-rendered]")
    assert page.get_attribute("[data-testid=cost-chart]", "data-rendered") == "2"
    assert page.get_attribute("[data-testid=cost-share-chart]", "data-rendered") == "2"
    box = page.locator("[data-testid=cost-chart]").bounding_box()
    assert box["width"] > 200 and box["height"] > 100
    page.screenshot(path=str(tmp_path / "costs.png"))
    # by service type, per week
    page.select_option("[data-testid=cost-by]", "service")
    page.select_option("[data-testid=cost-period]", "week")
    page.click("[data-testid=cost-apply]")
    page.wait_for_selector("[data-testid=cost-chart][data-rendered='4']")
    assert page.locator("[data-testid=cost-by-key] tr[data-key]").count() == 4
    # a reversed range answers with a message, no chart
    page.fill("[data-testid=cost-from]", "2026-05-01")
    page.fill("[data-testid=cost-to]", "2026-01-01")
    page.click("[data-testid=cost-apply]")
    assert "after the end date" in page.inner_text("[data-testid=cost-error]")
    assert page.locator("[data-testid=cost-chart]").count() == 0
    page.click("text=Clear")
    page.wait_for_selector("[data-testid=cost-chart][data-rendered]")
    with page.expect_download() as info:
        page.click("[data-testid=cost-csv]")
    text = open(info.value.path(), encoding="utf-8").read()
    assert text.startswith("period,project,cost,jobs")


def test_admin_sets_a_price(app, make_user, live_server, page):
    make_user("root_admin", admin=True)
    app.extensions["billing_weights"] = _NoSlurm()
    login(page, live_server, "root_admin")
    page.click("nav.sidemenu [data-menu=admin-prices]")
    page.fill("[data-testid=price-resource]", "cpu")
    page.fill("[data-testid=price-hourly]", "-1")
    page.click("[data-testid=price-save]")
    page.wait_for_selector("text=A price cannot be negative.")
    page.fill("[data-testid=price-resource]", "cpu")
    page.fill("[data-testid=price-hourly]", "0.02")
    page.click("[data-testid=price-save]")
    page.wait_for_selector("tr[data-resource=cpu] >> text=0.0200")


class _NoSlurm:
    def read(self):
        return {"gpu": {"CPU": "1.0", "Mem": "0.25G", "GRES/gpu": "10.0"}}

    def set(self, partition, weights):
        raise AssertionError("tests do not change the cluster's partitions")
