"""Issue #17, item 1, in the browser against the dev cluster: the owner of a running job
clicks Extend; the page shows the new end, and Slurm has the new TimeLimit. A MaxWall that
leaves no room refuses in words on the page, and Slurm keeps the limit."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from adapters.runner import CommandRunner
from portal import db
from portal.models import Job, WalletTransaction
from portal.services import jobs as jobsvc
from tests.browser.steps import login, wait_for_cluster_view
from tests.support.members import add_member, ensure_project
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _time_limit(job_id: str) -> str:
    shown = CommandRunner().run(["scontrol", "show", "job", job_id], check=False).stdout
    return re.search(r"TimeLimit=(\S+)", shown).group(1)


def test_clicking_extend_raises_the_time_limit_and_a_cap_refuses_in_words(
        app, running_worker, live_server, page):
    name = "ex" + uuid.uuid4().hex[:8]
    with app.test_request_context():
        alice = add_member("alice", "proja")
        project = ensure_project("proja")
        db.session.add(WalletTransaction(project_id=project.id, account="proja", kind="topup",
                                         amount=Decimal("5"), occurred_at=db.utcnow()))
        db.session.commit()
        wait_for_cluster_view(timeout=90)
        job = jobsvc.create_job(alice, {"name": name, "cpus": 1, "mem_gb": 1, "image": "base",
                                        "command": "sleep 600", "time_limit": "0:10:00"})
        job_id, slurm_id = job.id, job.slurm_job_id
    try:
        def running():
            with app.app_context():
                return db.session.get(Job, job_id).state == "running"

        wait_for(running, what="the job to run", timeout=90)
        login(page, live_server, "alice")
        page.goto(f"{live_server}/jobs/{job_id}")
        before = page.inner_text("[data-testid=ends-at]")
        page.fill("[data-testid=extend-hours]", "2")
        page.click("[data-testid=extend]")
        page.wait_for_selector(".flash.info:has-text('Extended by 2 h')")
        after = page.inner_text("[data-testid=ends-at]")
        assert after != before and "Ends at the latest at" in after
        assert "2:10:00" in page.inner_text("[data-testid=job-time-limit]")
        assert _time_limit(slurm_id) == "02:10:00"
        with app.app_context():
            row = db.session.get(Job, job_id)
            shown = (row.started_at + timedelta(minutes=130)).strftime("%Y-%m-%d %H:%M")
            assert shown in after
            row.project.max_wall_minutes = 150
            db.session.commit()

        page.fill("[data-testid=extend-hours]", "1")
        page.click("[data-testid=extend]")
        refusal = page.wait_for_selector(".flash.error").inner_text()
        assert "MaxWall" in refusal and "2 h 30 min" in refusal and "0 h more" in refusal
        assert _time_limit(slurm_id) == "02:10:00"
    finally:
        CommandRunner().run(["scancel", "--", slurm_id], check=False)
