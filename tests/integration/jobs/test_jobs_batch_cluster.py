"""F6/F7 on the real dev cluster: Slurm, Charliecloud, files written and read as the user."""

import os
import pwd

import pytest

from portal import db
from portal.models import Job
from portal.services import ServiceError, jobdelete, joblog, jobtemplates, tokens
from portal.services import jobs as jobsvc
from tests.integration.jobs.jobhelpers import add_member, cycle, ours, wait_for

pytestmark = pytest.mark.integration

# Every character class the issue lists: quotes, $(), backticks, newlines, non-ASCII.
NASTY = (
    'cat -- "$0"\n'
    "# it's \"quoted\" $(echo SUBST) `echo BACKTICK` ünïcödé 中文 ; | & > < * ? \\ $HOME\n"
    ": 'tab\there' \"${USER}\" $((1+1)) !! ~ {a,b} #\n"
)


def _finished(app, job_id):
    def check():
        job = db.session.get(Job, job_id)
        return job if job.state in jobsvc.TERMINAL else None
    return wait_for(check, 90, cycle_app=app, what=f"job {job_id} to finish")


def test_a_nasty_command_prints_itself_back_exactly(cluster_ctx, prefix, slurm):
    alice = add_member("alice", "proja")
    job = jobsvc.create_job(alice, {"name": f"{prefix}-nasty", "cpus": 1, "mem_gb": 1,
                                    "image": "base", "command": NASTY})
    info = slurm.info(job.slurm_job_id)
    assert (info.user, info.account, info.name) == ("alice", "proja", f"{prefix}-nasty")
    assert info.comment == f"portal-job-{job.uuid}"
    job = _finished(cluster_ctx, job.id)
    assert (job.state, job.exit_code) == ("completed", 0), job.error
    assert joblog.tail(job, jobsvc.get_backend()).text == NASTY
    alice_uid = pwd.getpwnam("alice").pw_uid
    for name in ("", "/job.sh", "/command.sh", "/output.log"):
        assert os.stat(job.directory + name).st_uid == alice_uid
    assert oct(os.stat(job.directory).st_mode)[-3:] == "700"
    assert [e.kind for e in job.events][:1] == ["submitted"] and job.events[-1].kind == \
        "completed"
    assert any(e.kind == "started" and e.details.get("node") for e in job.events)


def test_bad_names_and_images_never_reach_slurm(cluster_ctx, prefix, slurm):
    alice = add_member("alice", "proja")
    for data, code in [({"name": f"{prefix};reboot"}, "invalid_name"),
                       ({"name": f"{prefix}-x", "image": "../../etc"}, "image_not_allowed")]:
        with pytest.raises(ServiceError) as err:
            jobsvc.create_job(alice, {"image": "base", "command": "true", **data})
        assert err.value.code == code
    assert ours(slurm, prefix) == [] and db.session.query(Job).count() == 0


def test_template_runs_are_named_in_sequence_in_slurm(cluster_ctx, prefix, slurm):
    alice = add_member("alice", "proja")
    template = jobtemplates.create_template(alice, {
        "name": prefix, "cpus": 1, "mem_gb": 1, "image": "base", "command": "echo ok"})
    first = jobtemplates.run_template(alice, template.id)
    second = jobtemplates.run_template(alice, template.id)
    assert (first.name, second.name) == (f"{prefix}-1", f"{prefix}-2")
    names = {slurm.info(j.slurm_job_id).name for j in (first, second)}
    assert names == {f"{prefix}-1", f"{prefix}-2"}
    assert jobtemplates.next_run_name(template) == f"{prefix}-3"


def test_log_download_with_range_and_refused_for_others(cluster_ctx, prefix, slurm, client):
    alice = add_member("alice", "proja")
    bob = add_member("bob", "proja")
    _, bob_token = tokens.create_token(bob, "t")
    _, alice_token = tokens.create_token(alice, "t")
    job = jobsvc.create_job(alice, {"name": f"{prefix}-log", "cpus": 1, "mem_gb": 1,
                                    "image": "base",
                                    "command": "for i in $(seq 1 2000); do echo line $i; done"})
    job_id = job.id
    _finished(cluster_ctx, job_id)
    db.session.commit()
    bob_try = client.get(f"/api/v1/jobs/{job_id}/log",
                         headers={"Authorization": f"Bearer {bob_token}"})
    assert bob_try.status_code == 404 and b"line" not in bob_try.data
    part = client.get(f"/api/v1/jobs/{job_id}/log",
                      headers={"Authorization": f"Bearer {alice_token}", "Range": "bytes=-10"})
    assert part.status_code == 206 and part.data == b"line 2000\n"[-10:]
    whole = client.get(f"/api/v1/jobs/{job_id}/log",
                       headers={"Authorization": f"Bearer {alice_token}"})
    assert whole.data.count(b"\n") == 2000


def test_deleting_a_running_job_cancels_it(cluster_ctx, prefix, slurm):
    alice = add_member("alice", "proja")
    job = jobsvc.create_job(alice, {"name": f"{prefix}-long", "cpus": 1, "mem_gb": 1,
                                    "image": "base", "command": "sleep 300"})
    job_id, slurm_id = job.id, job.slurm_job_id
    wait_for(lambda: slurm.info(slurm_id).state.value == "running", 60, what="job to start")
    jobdelete.delete_job(alice, job_id)
    assert wait_for(lambda: slurm.info(slurm_id).state.value == "cancelled", 30,
                    what="Slurm to cancel it")
    cycle(cluster_ctx)
    job = db.session.get(Job, job_id)
    assert job.hidden and job.state == "cancelled"
    assert job not in jobsvc.visible_jobs(alice)
