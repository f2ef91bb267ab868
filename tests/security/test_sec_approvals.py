"""Issue #12, finding 2: what runs is what was approved, on the real dev cluster.

The attack: bob asks the portal for 2 GPUs in a project whose approval threshold is 1; the
job is held (JobHeldAdmin). From the login node he runs `scontrol update JobId=…
TresPerNode=gres:gpu:a100:4` (and Account=, Partition=, NumCPUs=, TimeLimit=, Comment=),
before the manager approves and again after the release, while the job still waits.
Then the approved job would run in the uncapped `<account>_approved` with 4 GPUs.

What stops it: the job_submit/lua policy (etc/slurm/job_submit.lua, installed by
cluster.sh) refuses every user update of a portal-tagged job except a plain hold/release;
and the operator compares the job with the request before and right after the release,
and the worker until it starts, cancelling a changed job (a site without the policy: the
changes are made here as root, which the policy lets through, to stand in for that).

Works on its own accounts ("t" + hex, QOS p_<account>, child <account>_approved), removed
at the end with every job in them; proja/projb are never touched.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from adapters.errors import AdapterError
from adapters.factory import make_scheduler
from adapters.runner import CommandRunner
from adapters.scheduler import JobState
from portal import db
from portal.models import AuditEvent, Order
from portal.services import ServiceError, approvals, cluster, projects, users
from portal.services import approval_check as check
from portal.services import jobs as jobsvc
from portal.services.jobspec import parse_request
from portal.services.projects import OPERATOR
from portal.services.requestcheck import project_limits
from tests.conftest import PASSWORD
from tests.integration.jobs.jobhelpers import cycle, wait_for
from tests.support.slurmaccounts import drop_accounts

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("approvals_cluster")]
RUN = CommandRunner(timeout=30)
SLURM = make_scheduler({})  # reads as root: the operator's view
REQUEST = {"cpus": "1", "mem_gb": "1", "image": "base", "command": "sleep 300",
           "gpu_model": "a100", "gpu_count": "2", "reason": "two GPUs"}
# What bob tries from the shell (the finding's commands, and the other terms).
ATTACKS = ("TresPerNode=gres:gpu:a100:4", "NumCPUs=8", "TimeLimit=5", "Partition=cpu",
           "Comment=mine", "QOS=normal")


def _as(user: str, *argv: str):
    return RUN.run(list(argv), as_user=user, check=False)


@pytest.fixture
def account(app):
    try:
        RUN.run(["sacctmgr", "--noheader", "show", "cluster"])
        policy = RUN.run(["scontrol", "show", "config"]).stdout
    except AdapterError as exc:
        pytest.fail(f"the dev cluster does not answer ({exc.message}); start it with "
                    "sudo etc/devcluster/cluster.sh start", pytrace=False)
    assert "JobSubmitPlugins        = lua" in policy, \
        "the dev cluster runs without etc/slurm/job_submit.lua: cluster.sh reconfigure"
    name = "t" + secrets.token_hex(5)
    yield name
    drop_accounts(approvals.approved_account(name), name, qos=f"p_{name}", tries=100,
                  step=0.3)


@pytest.fixture
def project(app, account):
    """Project `account`: threshold 1 GPU, manager alice, member bob (the attacker)."""
    cycle(app)  # the cluster cache: partitions and GPU models
    with app.test_request_context("/"):
        for name in ("alice", "bob"):
            users.create_user(name, password=PASSWORD)
        projects.create_project(OPERATOR, account=account, name=f"Approvals {account}",
                                settings={"approval_threshold": 1, "gpu_limit": 4},
                                managers=["alice"], members=["bob"])
    return account


def _request(app, name: str, begin: datetime | None = None) -> tuple[str, int]:
    """bob's 2-GPU request through the portal (optionally to start at `begin`)."""
    with app.test_request_context("/"):
        bob = users.get_user("bob")
        if begin is None:
            job = jobsvc.create_job(bob, {**REQUEST, "name": name})
        else:  # create_job without a start time: the same steps, with --begin
            membership = jobsvc.require_membership(bob)
            request = parse_request(bob, REQUEST, cluster.cached_view(),
                                    limits=project_limits(membership.project))
            job = jobsvc.new_job(bob, membership, name, request)
            db.session.add(job)
            db.session.commit()
            backend = jobsvc.get_backend()
            jobsvc.launch(job, backend, begin=begin)
            approvals.record("job", job, backend)
        order = db.session.query(Order).filter_by(ref_id=job.id).one()
        return job.slurm_job_id, order.id


def _approve(app, order_id: int):
    with app.test_request_context("/"):
        alice = users.get_user("alice")
        return approvals.approve(alice, order_id, jobsvc.get_backend())


def _terms(job_id: str) -> dict:
    return check.live_terms(SLURM.info(job_id))


def _state(job_id: str) -> JobState:
    return SLURM.info(job_id).state


def _shell_attacks(job_id: str) -> None:
    """Every update bob tries is refused, and the job is exactly as it was."""
    before = _terms(job_id)
    for change in (*ATTACKS, "Account=projb"):
        result = _as("bob", "scontrol", "update", f"JobId={job_id}", change)
        assert result.returncode != 0, f"{change} got through: {result.stdout}"
        assert "denied" in result.stderr.lower(), result.stderr
    assert _terms(job_id) == before


def _approved_terms(project: str) -> dict:
    return {"gpus": 2, "gpu_model": "a100", "cpus": 1, "mem_mb": 1024,
            "account": approvals.approved_account(project), "partition": "gpu"}


def test_shell_changes_before_approval_are_refused_and_the_approved_job_runs_as_approved(
        app, project):
    job_id, order_id = _request(app, "sec-apv-" + secrets.token_hex(3))
    info = SLURM.info(job_id)
    assert (info.state, info.reason) == (JobState.QUEUED_HELD, "JobHeldAdmin")
    tag = info.comment
    assert tag.startswith("portal-job-")

    _shell_attacks(job_id)
    release = _as("bob", "scontrol", "release", job_id)
    assert release.returncode != 0 and "denied" in release.stderr.lower()

    order = _approve(app, order_id)
    assert order.approval == "approved"
    wait_for(lambda: _state(job_id) == JobState.RUNNING, 90, 0.5,
             what="the approved job to run")
    running = _terms(job_id)  # a running job's TRES is its allocation
    assert {k: running[k] for k in _approved_terms(project)} == _approved_terms(project)
    assert running["comment"] == tag and running["time_limit"] == 240
    # The owner can still cancel it (scancel is not an update).
    assert _as("bob", "scancel", job_id).returncode == 0
    wait_for(lambda: _state(job_id).is_terminal, 30, 0.5, what="the cancel")


def test_shell_changes_after_release_are_refused_while_it_waits(app, project):
    start = datetime.now(UTC) + timedelta(minutes=30)
    job_id, order_id = _request(app, "sec-apv-" + secrets.token_hex(3), begin=start)
    _approve(app, order_id)
    # Released, waiting for its start time (the reason shows once the scheduler looked).
    info = wait_for(lambda: (i := SLURM.info(job_id)).reason == "BeginTime" and i, 30, 0.5,
                    what="the released job to wait for its start time")
    assert info.state == JobState.QUEUED
    assert info.account == approvals.approved_account(project)

    _shell_attacks(job_id)
    moved = _as("bob", "scontrol", "update", f"JobId={job_id}", "StartTime=now")
    assert moved.returncode != 0

    # The operator lets it start now: it runs with what was approved.
    RUN.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"])
    wait_for(lambda: _state(job_id) == JobState.RUNNING, 90, 0.5,
             what="the approved job to run")
    running = _terms(job_id)
    assert {k: running[k] for k in _approved_terms(project)} == _approved_terms(project)
    cycle(app)  # the worker sees it running as approved: no longer re-checked
    with app.app_context():
        assert db.session.get(Order, order_id).state == "started"


def test_the_operator_cancels_a_changed_job_instead_of_releasing_it(app, project):
    """On a site without the policy bob's update would get through: root stands in for
    him. The approval then refuses and cancels; after a release the worker does."""
    job_id, order_id = _request(app, "sec-apv-" + secrets.token_hex(3))
    RUN.run(["scontrol", "update", f"JobId={job_id}", "TresPerNode=gres:gpu:a100:4"])
    with pytest.raises(ServiceError) as refused:
        _approve(app, order_id)
    assert refused.value.code == "job_changed"
    assert "gpus: approved 2, found 4" in str(refused.value.message)
    wait_for(lambda: _state(job_id) == JobState.CANCELLED, 30, 0.5, what="the cancel")
    assert SLURM.info(job_id).nodes == []  # it never ran: no node was ever allocated
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert (order.approval, order.state) == ("closed", "cancelled")
        audit = db.session.query(AuditEvent).filter_by(action="approval.job_changed").one()
        assert audit.details["differences"]["gpus"] == [2, 4]

    # Released, waiting for its start time, then changed: the worker's next cycle cancels.
    later = datetime.now(UTC) + timedelta(minutes=30)
    job2, order2 = _request(app, "sec-apv-" + secrets.token_hex(3), begin=later)
    _approve(app, order2)
    RUN.run(["scontrol", "update", f"JobId={job2}", "NumCPUs=4"])
    summary = cycle(app)
    assert summary.get("orders_changed") == 1, summary
    wait_for(lambda: _state(job2) == JobState.CANCELLED, 30, 0.5, what="the cancel")
    with app.app_context():
        order = db.session.get(Order, order2)
        assert (order.approval, order.state) == ("closed", "cancelled")
        assert "cpus: approved 1, found 4" in order.decision_message


def test_nobody_but_the_operator_puts_a_portal_tag_on_a_job(app, account):
    shell = _as("bob", "sbatch", "--parsable", "--hold", "--account=proja", "--mem=100M",
                "--time=2", "--chdir=/tmp", "--job-name=sec-apv-tag", "--wrap=sleep 30")
    assert shell.returncode == 0, shell.stderr
    job_id = shell.stdout.strip().split(";")[0]
    try:
        squat = _as("bob", "scontrol", "update", f"JobId={job_id}",
                    "Comment=portal-job-0123456789abcdef")
        assert squat.returncode != 0 and "denied" in squat.stderr.lower()
        # His own, untagged job stays his to change.
        fine = _as("bob", "scontrol", "update", f"JobId={job_id}", "Comment=mine")
        assert fine.returncode == 0, fine.stderr
        assert SLURM.info(job_id).comment == "mine"
    finally:
        _as("bob", "scancel", job_id)
