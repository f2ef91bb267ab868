"""Issue #12, finding 9: on the login node a user sees only their own jobs and usage.

The attack: carol runs `squeue -o '%k %Z'` (or sacct, scontrol show job, sshare) and reads
alice's and bob's portal tags and job directories. What stops it: `PrivateData=jobs,usage`
in slurm.conf and slurmdbd.conf (etc/devcluster/). Slurm coordinators (the projects'
managers) still see their accounts' jobs, and the portal, which reads as the operator,
still lists everybody's jobs.
"""

from __future__ import annotations

import secrets

import pytest

from adapters.errors import AdapterError
from adapters.factory import make_scheduler
from adapters.runner import CommandRunner
from adapters.scheduler import JobState
from portal import db
from portal.models import Job
from portal.services import jobs as jobsvc
from tests.integration.jobs.jobhelpers import add_member, cycle, wait_for

pytestmark = pytest.mark.integration
RUN = CommandRunner(timeout=30)
SLURM = make_scheduler({})


def _as(user: str, *argv: str):
    return RUN.run(list(argv), as_user=user, check=False)


def _shell_job(user: str, account: str, name: str) -> str:
    out = _as(user, "sbatch", "--parsable", f"--account={account}", "--mem=100M",
              "--time=2", "--chdir=/tmp", f"--job-name={name}", "--wrap=sleep 120")
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().split(";")[0]


@pytest.fixture
def private_cluster():
    try:
        config = RUN.run(["scontrol", "show", "config"]).stdout
    except AdapterError as exc:
        pytest.fail(f"the dev cluster does not answer ({exc.message}); start it with "
                    "sudo etc/devcluster/cluster.sh start", pytrace=False)
    assert "PrivateData             = jobs,usage" in config, \
        "the dev cluster runs without PrivateData: cluster.sh reconfigure"
    made: list[str] = []
    yield made
    for job_id in made:
        RUN.run(["scancel", "--", job_id], check=False)


def test_other_users_jobs_are_hidden_and_the_portal_still_lists_them(app, private_cluster):
    name = "sec-pd-" + secrets.token_hex(3)
    cycle(app)  # the cluster cache: partitions and GPU models
    with app.test_request_context("/"):
        alice = add_member("alice", "proja")
        portal_job = jobsvc.create_job(alice, {"name": name, "cpus": "1", "mem_gb": "1",
                                               "image": "base", "command": "sleep 120"})
        alice_id, tag, directory = portal_job.slurm_job_id, jobsvc.tag_of(portal_job), \
            portal_job.directory
        job_row = portal_job.id
    bob_id = _shell_job("bob", "projb", name)
    carol_id = _shell_job("carol", "projb", name)
    private_cluster.extend([alice_id, bob_id, carol_id])

    # carol: only her own job, wherever she looks.
    listing = _as("carol", "squeue", "--noheader", "--states=all", "-o", "%i %u %k %Z").stdout
    ids = {line.split()[0] for line in listing.splitlines() if line.strip()}
    assert carol_id in ids and not ids & {alice_id, bob_id}, listing
    assert tag not in listing and directory not in listing and "alice" not in listing
    for job_id in (alice_id, bob_id):
        shown = _as("carol", "scontrol", "show", "job", job_id)
        assert shown.returncode != 0 and tag not in shown.stdout
        asked = _as("carol", "squeue", "--noheader", f"--jobs={job_id}", "-o", "%i %k")
        assert job_id not in asked.stdout
    wait_for(lambda: RUN.run(["sacct", "-X", "-n", "-o", "jobid", f"--jobs={alice_id}"])
             .stdout.strip(), 30, 0.5, what="slurmdbd to know alice's job")
    history = _as("carol", "sacct", "-X", "-n", "--allusers", "--starttime=now-1hours",
                  "-o", "jobid,user,comment%60,workdir%80").stdout
    assert alice_id not in history and bob_id not in history and tag not in history
    usage = _as("carol", "sshare", "--all", "--noheader", "-o", "account,user").stdout
    assert "alice" not in usage and "bob" not in usage

    # bob coordinates projb (cluster.sh): he sees carol's projb job, not alice's proja one.
    seen_by_bob = _as("bob", "squeue", "--noheader", "--states=all", "-o", "%i").stdout.split()
    assert carol_id in seen_by_bob and alice_id not in seen_by_bob

    # The portal reads as the operator: the worker still follows alice's job, and alice
    # reads her own job as herself.
    with app.test_request_context("/"):
        def followed():
            cycle(app)
            return db.session.get(Job, job_row).state in ("running", "completed")

        wait_for(followed, 60, 0.5, what="the worker to see alice's job run")
    assert SLURM.info(alice_id).user == "alice"  # the operator's view: everybody
    assert SLURM.info(alice_id, as_user="alice").comment == tag
    assert {j.id for j in SLURM.info_all(job_ids=[alice_id, bob_id, carol_id])} == \
        {alice_id, bob_id, carol_id}
    assert SLURM.info(carol_id, as_user="carol").state != JobState.UNKNOWN
