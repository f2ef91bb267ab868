"""Issue #17, item 4, in the browser on the dev cluster: Run job shows the free GPUs per
model at once and, after the worker has asked Slurm in the background, when Slurm would
start the request — without reloading the page."""

from __future__ import annotations

import pytest

from tests.browser.steps import login
from tests.support.members import add_member

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_run_job_form_shows_free_gpus_and_the_expected_start(app, running_worker,  # noqa: F811
                                                             live_server, page):
    with app.app_context():
        add_member("alice", "proja")
    login(page, live_server, "alice")
    for _ in range(60):  # the worker's first cluster refresh fills the cache
        page.goto(f"{live_server}/jobs/new")
        if "Free GPUs now" in page.inner_text("[data-testid=availability]"):
            break
        page.wait_for_timeout(500)
    assert "a100" in page.inner_text("[data-testid=availability]")
    page.select_option("[data-testid=gpu-model]", "a100")
    page.fill("[data-testid=gpu-count]", "1")
    page.wait_for_selector("[data-testid=availability][data-start-state=known]",
                           timeout=60_000)
    text = page.inner_text("[data-testid=availability]")
    assert "would start this at once" in text or "expects to start this at" in text
