"""Issue #16, item 3, as a user with a small wallet meets it (browser + dev cluster, budget
enforced): the run-job form says before submit that the budget does not cover the default
4-hour limit and how long a job may ask for; a job submitted anyway waits, and its page
says the budget holds it and what would fit; a job with a short limit typed in runs.

The test works on its own account ("t" + random hex) and project QOS, removed at the end
with its jobs; proja and projb are never touched.
"""

from __future__ import annotations

import secrets
import time

import pytest

from portal import db
from portal.services import projects, users
from portal.services import wallet as svc
from portal.services.projects import OPERATOR
from tests.browser.steps import login
from tests.conftest import PASSWORD
from tests.support.slurmaccounts import drop_accounts, require_slurmdbd

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.xdist_group("wallet")]


@pytest.fixture
def small_wallet(app):
    """A project of alice's with its own QOS and 0.04 in the wallet: 240 billing-minutes,
    less than a 4-hour job of 2 CPUs and 1 GB (2 whole units × 240 min = 480) needs."""
    require_slurmdbd()
    account = "t" + secrets.token_hex(5)
    app.config["WALLET_ENFORCE"] = True
    with app.test_request_context("/"):
        users.create_user("alice", password=PASSWORD)
        admin, _ = users.create_user("root-admin", unix_user="nobody", password=PASSWORD,
                                     is_admin=True)
        project = projects.create_project(OPERATOR, account=account, name=f"IT {account}",
                                          managers=["alice"])
        svc.worker_step()
        svc.top_up(admin, project.id, "0.04", "small wallet")
        db.session.remove()
    yield account
    drop_accounts(account, qos=f"p_{account}")


def _fill(page, name: str, time_limit: str | None = None):
    page.fill("[data-testid=job-name]", name)
    page.fill("[data-testid=cpus]", "2")
    page.fill("[data-testid=mem]", "1")
    if time_limit is not None:
        page.fill("[data-testid=time-limit]", time_limit)
    page.fill("[data-testid=command]", "echo fits; sleep 2")


def test_small_wallet_form_warns_pending_job_says_why_short_job_runs(
        app, small_wallet, running_worker, live_server, page):
    login(page, live_server, "alice")
    page.goto(f"{live_server}/jobs/new")
    assert page.input_value("[data-testid=time-limit]") == "4:00:00"

    _fill(page, "long-default")
    # 2 CPUs + 1 GB is 2.25 billing units, of which Slurm's start check counts the whole 2:
    # 4 h need 480 billing-minutes (0.08); 240 are left, enough for 2 hours.
    page.wait_for_selector("[data-testid=price-estimate][data-fits=false] "
                           ".estimate-line.warning:has-text('at most 2 h')")
    assert page.get_attribute("[data-testid=price-estimate]", "data-hourly") == "0.02"
    warning = page.inner_text("[data-testid=price-estimate] .estimate-line.warning")
    assert "does not cover the whole time limit (4 h: 0.08)" in warning
    assert "Ask for at most 2 h," in warning
    page.click("[data-testid=submit-job]")
    page.wait_for_selector("[data-testid=slurm-job-id]")

    def held_by_budget():
        page.reload()
        return page.locator("[data-testid=budget-hold]").count()

    deadline = time.monotonic() + 90
    while not held_by_budget():
        assert time.monotonic() < deadline, "the job page never said the budget holds it"
        time.sleep(1)
    hold = page.inner_text("[data-testid=budget-hold]")
    assert "budget is what holds it" in hold and "at most 2 h would fit" in hold
    assert "Waiting for the budget" in page.inner_text("[data-testid=job-reason]")

    page.goto(f"{live_server}/jobs/new")
    _fill(page, "short", "10")
    page.wait_for_selector("[data-testid=price-estimate][data-fits=true] "
                           ".estimate-line:has-text('10 min')")
    page.click("[data-testid=submit-job]")
    page.wait_for_selector("[data-testid=slurm-job-id]")
    deadline = time.monotonic() + 90
    while "completed" not in page.inner_text("[data-testid=job-state]"):
        assert time.monotonic() < deadline, "the short job did not run"
        time.sleep(1)
        page.reload()
