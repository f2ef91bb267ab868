"""Issue #16, items 2 and 3, as a user meets them in the browser against the dev cluster:

- Run job has a time limit field, filled in with the default (the partition's 4 h here);
  a 1-minute limit typed there is what Slurm gets (`scontrol show job`: TimeLimit=00:01:00).
- The form says what the request costs per hour before submit; the order shows the same
  unit price, Slurm bills the same (billing=13 is 0.13 per hour at 100 units a currency),
  and the wallet's charge for the finished job is that price × the hours it ran.

Slurm's weights are the dev cluster's slurm.conf ones (CPU=1.0,Mem=0.25G,GRES/gpu=10.0;
the tests never change them), read by the worker's cluster refresh.
"""

from __future__ import annotations

import re
import uuid
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import select

from adapters.runner import CommandRunner
from portal import db
from portal.models import Order, WalletTransaction
from tests.browser.steps import login
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _scontrol(job_id: str) -> str:
    return CommandRunner().run(["scontrol", "show", "job", job_id], check=False).stdout


def test_form_price_is_the_order_price_and_the_charge_and_the_time_limit_reaches_slurm(
        app, alice, running_worker, live_server, page):
    name = "tp" + uuid.uuid4().hex[:8]
    slurm_id = None
    try:
        login(page, live_server, "alice")
        # The worker has read the partitions (and their billing weights) at least once.
        wait_for(lambda: page.goto(f"{live_server}/jobs/new") and page.locator(
            "[data-testid=price-estimate][data-hourly]:not([data-hourly=''])").count(),
            what="the price to be known", timeout=60)
        assert page.input_value("[data-testid=time-limit]") == "4:00:00"  # partition default

        page.fill("[data-testid=job-name]", name)
        page.select_option("[data-testid=gpu-model]", "a100")
        page.fill("[data-testid=gpu-count]", "1")
        page.fill("[data-testid=cpus]", "2")
        page.fill("[data-testid=mem]", "4")
        page.fill("[data-testid=time-limit]", "1")
        page.fill("[data-testid=command]", "echo priced; sleep 5")
        # 2 CPUs × 1.0 + 4 GB × 0.25 + 1 GPU × 10.0 = 13 billing units = 0.13 per hour.
        page.wait_for_selector("[data-testid=price-estimate][data-hourly='0.13']")
        shown = page.get_attribute("[data-testid=price-estimate]", "data-hourly")
        words = page.inner_text("[data-testid=price-estimate]")
        assert "This costs 0.13 per hour" in words
        assert "With a time limit of 1 min" in words  # the typed limit, in words

        page.click("[data-testid=submit-job]")
        page.wait_for_selector("[data-testid=slurm-job-id]")
        slurm_id = page.inner_text("[data-testid=slurm-job-id]").strip()
        assert slurm_id.isdigit()
        assert "0:01:00" in page.inner_text("[data-testid=job-time-limit]")
        shown_slurm = _scontrol(slurm_id)
        assert "TimeLimit=00:01:00" in shown_slurm
        billing = int(re.search(r"billing=(\d+)", shown_slurm).group(1))
        assert Decimal(billing) / 100 == Decimal(shown)  # what Slurm bills per hour

        page.goto(f"{live_server}/orders/")
        row = page.locator(f"tr:has-text('{name}')")
        assert row.locator("[data-testid=unit-price]").inner_text() == shown
        row.locator("td a").first.click()
        assert page.inner_text("[data-testid=unit-price]") == shown
        spec = page.inner_text("[data-testid=spec]")
        assert "1 × a100" in spec and "1 min (0:01:00)" in spec and "=" not in spec

        def charged():
            with app.app_context():
                return db.session.scalar(select(WalletTransaction).where(
                    WalletTransaction.job_id == slurm_id))

        tx = wait_for(charged, what="the wallet to charge the finished job", timeout=240, step=1)
        with app.app_context():
            order = db.session.scalar(select(Order).where(Order.slurm_job_id == slurm_id))
            assert order.unit_price == Decimal(shown)
        assert tx.billing == billing and Decimal(tx.billing) / 100 == Decimal(shown)
        expected = (Decimal(shown) * tx.elapsed_s / 3600).quantize(Decimal("0.0001"),
                                                                   ROUND_HALF_UP)
        assert -tx.amount == expected  # the charge is the shown price × the hours it ran
    finally:
        if slurm_id:
            CommandRunner().run(["scancel", "--", slurm_id], check=False)
