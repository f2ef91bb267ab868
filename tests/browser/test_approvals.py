"""F11 approvals end to end, on the real dev cluster and in a real browser (issue 7's
"done means"): an over-threshold GPU request stays held in squeue until a manager
approves it in the browser, then runs; the requester can neither release it nor start
over-threshold work from the shell; a rejection cancels the job and shows the message.

Works on its own account ("t" + hex, QOS p_<account>, child <account>_approved), removed
at the end with every job in it; proja/projb are never touched.
"""

from __future__ import annotations

import secrets

import pytest

from adapters.runner import CommandRunner
from portal import db
from portal.models import Order
from portal.services import accounts_sync, projects, users
from portal.services import jobs as jobsvc
from portal.services.approvals import approved_account
from portal.services.projects import OPERATOR
from tests.browser.steps import login
from tests.conftest import PASSWORD
from tests.integration.jobs.jobhelpers import cycle, wait_for
from tests.support.slurmaccounts import drop_accounts, require_slurmdbd

pytestmark = [pytest.mark.browser, pytest.mark.integration,
              pytest.mark.xdist_group("approvals_cluster")]
RUN = CommandRunner(timeout=30)


def _squeue(job_id: str) -> tuple[str, str, str]:
    """(state, reason, account) from squeue; ("", "", "") once it is gone."""
    out = RUN.run(["squeue", "--noheader", "--states=all", f"--jobs={job_id}",
                   "--format=%T|%r|%a"], check=False).stdout.strip()
    return tuple(out.split("|")) if out else ("", "", "")  # type: ignore[return-value]


def _as(user: str, *argv: str):
    return RUN.run(list(argv), as_user=user, check=False)


@pytest.fixture
def account(app):
    require_slurmdbd()
    name = "t" + secrets.token_hex(5)
    yield name
    drop_accounts(approved_account(name), name, qos=f"p_{name}", tries=100, step=0.3)


def _request(app, account, name, gpus=2):
    with app.test_request_context("/"):
        alice = users.get_user("alice")
        job = jobsvc.create_job(alice, {
            "name": name, "cpus": 1, "mem_gb": 1, "image": "base", "command": "sleep 300",
            "gpu_model": "a100", "gpu_count": gpus, "reason": f"{gpus} GPUs for {name}"})
        order = db.session.query(Order).filter_by(ref_id=job.id).one()
        return job.slurm_job_id, order.id


def test_held_until_approved_in_the_browser_then_runs_and_rejection_cancels(
        app, live_server, page, account):
    cycle(app)  # the cluster cache: partitions and GPU models
    with app.test_request_context("/"):
        for name in ("alice", "bob"):
            users.create_user(name, password=PASSWORD)
        projects.create_project(OPERATOR, account=account, name=f"Approvals {account}",
                                settings={"approval_threshold": 1, "gpu_limit": 4},
                                managers=["bob"], members=["alice"])
    prefix = "ap" + secrets.token_hex(3)
    job_id, order_id = _request(app, account, f"{prefix}-big")

    # Held by the operator: the requester cannot release it.
    assert _squeue(job_id)[:2] == ("PENDING", "JobHeldAdmin")
    release = _as("alice", "scontrol", "release", job_id)
    assert release.returncode != 0 and "permission denied" in release.stderr.lower()
    assert _squeue(job_id)[:2] == ("PENDING", "JobHeldAdmin")

    # Around the portal: a direct over-threshold sbatch is accepted but never starts.
    shell = _as("alice", "sbatch", "--parsable", f"--account={account}",
                "--gres=gpu:a100:2", "--cpus-per-task=1", "--mem=100M", "--time=2",
                f"--job-name={prefix}-shell", "--chdir=/tmp", "--wrap=sleep 60")
    assert shell.returncode == 0, shell.stderr
    shell_id = shell.stdout.strip().split(";")[0]
    reason = wait_for(lambda: _squeue(shell_id)[1] if _squeue(shell_id)[1] in (
        "AssocMaxGRESPerJob",) else None, 30, 0.5, what="the per-job GPU cap reason")
    assert reason == "AssocMaxGRESPerJob" and _squeue(shell_id)[0] == "PENDING"

    # The manager approves in the browser; the very same job then runs.
    login(page, live_server, "bob")
    page.click("nav >> text=Approvals")
    page.click(f"[data-testid=approvals] tr[data-order='{order_id}'] a")
    page.wait_for_selector("[data-testid=requester] >> text=alice")
    second_tab = page.context.new_page()  # the same request open twice: approve twice
    second_tab.goto(page.url)
    page.click("[data-testid=approve]")
    page.wait_for_selector("text=Approved: the work starts")
    state = wait_for(lambda: _squeue(job_id) if _squeue(job_id)[0] == "RUNNING" else None,
                     90, 0.5, what="the approved job to run")
    assert state[2] == approved_account(account)
    qos = RUN.run(["squeue", "--noheader", f"--jobs={job_id}", "--format=%q"]).stdout.strip()
    assert qos == f"p_{account}"  # still the project QOS: its quota and wallet apply
    # ...while the shell job still does not start, and cannot be moved where approved
    # jobs run, nor submitted there.
    assert _squeue(shell_id)[0] == "PENDING"
    move = _as("alice", "scontrol", "update", f"JobId={shell_id}",
               f"Account={approved_account(account)}")
    assert move.returncode != 0
    direct = _as("alice", "sbatch", "--parsable", f"--account={approved_account(account)}",
                 "--gres=gpu:a100:2", "--mem=100M", "--time=2", "--chdir=/tmp",
                 "--wrap=sleep 60")
    assert direct.returncode != 0
    _as("alice", "scancel", shell_id)
    with app.test_request_context("/"):  # `portal accounts check` agrees with the portal
        diffs = accounts_sync.check(only=[account, approved_account(account)])
    assert not [d for d in diffs if d.kind in ("approval_cap", "unmanaged_account")], diffs
    second_tab.click("[data-testid=approve]")  # approve twice: a clear message
    second_tab.wait_for_selector("text=This request was already approved (by bob)")
    second_tab.close()
    assert _squeue(job_id)[0] == "RUNNING"

    # A second request is rejected with a message: cancelled, and the requester sees why.
    job2, order2 = _request(app, account, f"{prefix}-rej", gpus=2)
    assert _squeue(job2)[:2] == ("PENDING", "JobHeldAdmin")
    page.goto(f"{live_server}/orders/approvals/{order2}")
    page.click("[data-testid=reject]")
    page.wait_for_selector("text=A rejection needs a message")
    assert _squeue(job2)[:2] == ("PENDING", "JobHeldAdmin")
    page.fill("[data-testid=reject-message]", "Please use one GPU, then ask again.")
    page.click("[data-testid=reject]")
    page.wait_for_selector("text=Rejected: the job was cancelled")
    wait_for(lambda: _squeue(job2)[0] in ("CANCELLED", ""), 30, 0.5,
             what="the rejected job to be cancelled")
    page.click("[data-testid=logout]") if page.locator("[data-testid=logout]").count() else \
        page.context.clear_cookies()
    login(page, live_server, "alice")
    page.goto(f"{live_server}/orders/{order2}")
    page.wait_for_selector("[data-testid=decision-message] >> text=Please use one GPU")
    assert "rejected" in page.inner_text("[data-testid=approval-state]")
