"""Issue #15 in the browser: the run-job form has a node count, says that GPUs, CPUs and
memory are per node, and its price per hour follows the node count as it is typed
(13 billing units per node here: 0.13 per hour, 0.26 on 2 nodes)."""

from __future__ import annotations

import pytest

from tests.browser.steps import login
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_the_node_count_is_on_the_form_and_multiplies_the_price(
        app, alice, running_worker, live_server, page):
    login(page, live_server, "alice")
    wait_for(lambda: page.goto(f"{live_server}/jobs/new") and page.locator(
        "[data-testid=price-estimate][data-hourly]:not([data-hourly=''])").count(),
        what="the price to be known", timeout=60)
    assert page.input_value("[data-testid=node-count]") == "1"
    assert "per node" in page.inner_text("[data-testid=node-count-help]")
    page.select_option("[data-testid=gpu-model]", "a100")
    page.fill("[data-testid=gpu-count]", "1")
    page.fill("[data-testid=cpus]", "2")
    page.fill("[data-testid=mem]", "4")
    page.wait_for_selector("[data-testid=price-estimate][data-hourly='0.13']")
    page.fill("[data-testid=node-count]", "2")
    page.wait_for_selector("[data-testid=price-estimate][data-hourly='0.26']")
    assert "This costs 0.26 per hour" in page.inner_text("[data-testid=price-estimate]")
