"""Issue #16, item 5, in a real browser: an order's page shows its spec and its history as
labelled fields in the reader's language — "GPUs 2 × a100", "Approval: waiting for a
project manager" — never raw `gpu_model=a100 gpu_count=2` or `approval=pending` text, in
English and in Traditional Chinese. (The order is what the approvals feature records for
a held request; Slurm is not needed to show it.)"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from portal import db
from portal.models import Order, OrderEvent
from tests.browser.steps import login
from tests.support.members import ensure_project, make_member

pytestmark = pytest.mark.browser


@pytest.fixture
def held_order(app):
    with app.app_context():
        user = make_member("ursula", "tproj")
        project = ensure_project("tproj")
        now = db.utcnow()
        order = Order(
            created_at=now, kind="job", ref_id=999, user_id=user.id, project_id=project.id,
            account="tproj", name="finetune-7",
            spec={"gpu_model": "a100", "gpu_count": 2, "cpus": 8, "mem_gb": 64, "shm_gb": 8,
                  "image": "base", "partition": "gpu", "time_limit_min": 90},
            gpu_model="a100", gpu_count=2, cpus=8, unit_price=Decimal("0.4200"),
            slurm_job_id="4242", state="submitted", reason="a 2-GPU fine-tune",
            approval="pending")
        db.session.add(order)
        db.session.add_all([
            OrderEvent(order=order, kind="created", at=now, actor="ursula",
                       details={"slurm_job_id": "4242", "unit_price": "0.4200",
                                "approval": "pending"}),
            OrderEvent(order=order, kind="held", at=now + timedelta(seconds=1), actor="",
                       details={"slurm_job_id": "4242",
                                "terms": {"gpus": 2, "gpu_model": "a100", "cpus": 8,
                                          "mem_mb": 65536, "time_limit": 90,
                                          "partition": "gpu", "account": "tproj"}}),
        ])
        db.session.commit()
        return order.id


def _no_raw_pairs(text: str) -> None:
    for raw in ("gpu_model=", "gpu_count=", "slurm_job_id=", "approval=", "unit_price=",
                "time_limit_min", "mem_gb", "pending"):
        assert raw not in text, f"{raw!r} shown raw in: {text}"


def test_order_page_reads_as_fields_in_both_languages(held_order, live_server, page):
    login(page, live_server, "ursula")
    page.goto(f"{live_server}/orders/{held_order}")
    spec = page.inner_text("[data-testid=spec]")
    assert "2 × a100" in spec and "64 GB" in spec and "1 h 30 min (1:30:00)" in spec
    assert page.inner_text("[data-testid=approval-state]").strip() == \
        "waiting for a project manager"
    assert page.inner_text("[data-testid=unit-price]") == "0.42"
    history = page.inner_text("[data-testid=history]")
    assert "Held for approval" in history and "Slurm job" in history
    assert "As Slurm held it" in history and "65536 MB" in history
    _no_raw_pairs(spec + history + page.inner_text("[data-testid=approval-state]"))

    page.goto(f"{live_server}/orders/")
    row = page.locator(f"tr[data-order='{held_order}']")
    assert row.locator("[data-testid=approval]").inner_text() == "waiting for a project manager"
    assert "8 CPU cores" in row.inner_text()

    page.click("[data-testid=lang-zh_TW]")
    page.wait_for_selector("html[lang^=zh]")
    page.goto(f"{live_server}/orders/{held_order}")
    spec = page.inner_text("[data-testid=spec]")
    assert "2 × a100" in spec and "記憶體" in spec and "時間限制" in spec
    assert page.inner_text("[data-testid=approval-state]").strip() == "等待專案管理者審核"
    history = page.inner_text("[data-testid=history]")
    assert "已暫停待審核" in history and "Slurm 作業" in history
    _no_raw_pairs(spec + history)
    assert "Held for approval" not in history and "Memory" not in spec
