"""Issue #12 finding 10 on the dev cluster: a job log that is a symlink is refused clearly.

The attack: alice, the job's owner, replaces her finished job's log (then its directory)
with a symlink to another file, as herself from a shell. Before the fix the portal
followed it (read as alice, so nothing leaked) and sized the download by the link, so it
stopped half-way. Now the job page, the live log, the page download and the API all
refuse it with the same clear message before sending a byte of the other file; with the
real log back, everything works again.
"""

from __future__ import annotations

import pytest

from adapters.runner import CommandRunner
from portal import db
from portal.models import Job
from portal.services import jobs as jobsvc
from portal.services import tokens
from tests.integration.jobs.conftest import cluster_ctx, prefix, slurm  # noqa: F401
from tests.integration.jobs.jobhelpers import add_member, wait_for

pytestmark = pytest.mark.integration
OTHER = "other-file-line\n" * 4000  # 64 KB: much longer than the link's own size


def _as_alice(*argv: str) -> None:
    CommandRunner().run(list(argv), as_user="alice")


def _finished(app, job_id):
    def check():
        job = db.session.get(Job, job_id)
        return job if job.state in jobsvc.TERMINAL else None
    return wait_for(check, 90, cycle_app=app, what=f"job {job_id} to finish")


def test_a_symlinked_log_is_refused_everywhere(cluster_ctx, prefix, slurm, client, auth):  # noqa: F811
    alice = add_member("alice", "proja")
    secret = tokens.create_token(alice, "t")[1]
    bearer = {"Authorization": f"Bearer {secret}"}
    job = jobsvc.create_job(alice, {"name": f"{prefix}-log", "cpus": 1, "mem_gb": 1,
                                    "image": "base", "command": "echo the-real-log"})
    job_id = job.id
    job = _finished(cluster_ctx, job_id)
    directory, log = job.directory, f"{job.directory}/output.log"
    other = f"/home/alice/{prefix}-other.txt"
    db.session.commit()
    auth.login("alice")
    CommandRunner().run(["dd", f"of={other}", "status=none"], as_user="alice", input=OTHER)
    try:
        # the attack: the log becomes a link to another file, from alice's own shell
        _as_alice("mv", "--", log, f"{log}.real")
        _as_alice("ln", "-s", "--", other, log)
        _refused_everywhere(client, auth, bearer, job_id, log)
        # the job directory itself swapped for a link to a copy of it
        _as_alice("rm", "--", log)
        _as_alice("mv", "--", f"{log}.real", log)
        _as_alice("mv", "--", directory, f"{directory}.real")
        _as_alice("ln", "-s", "--", f"{directory}.real", directory)
        _refused_everywhere(client, auth, bearer, job_id, directory)
        # the real log back in place: shown and downloaded as before
        _as_alice("rm", "--", directory)
        _as_alice("mv", "--", f"{directory}.real", directory)
        whole = client.get(f"/api/v1/jobs/{job_id}/log", headers=bearer)
        assert whole.status_code == 200 and whole.data == b"the-real-log\n"
        page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
        assert "the-real-log" in page and "symbolic link" not in page
    finally:
        CommandRunner().run(["rm", "-f", "--", other], as_user="alice", check=False)


def _refused_everywhere(client, auth, bearer, job_id, link) -> None:
    words = f"{link} is a symbolic link"
    api = client.get(f"/api/v1/jobs/{job_id}/log", headers=bearer)
    assert api.status_code == 409 and api.json["error"]["code"] == "log_symlink"
    assert words in api.json["error"]["message"]
    ranged = client.get(f"/api/v1/jobs/{job_id}/log", headers={**bearer, "Range": "bytes=0-9"})
    assert ranged.status_code == 409 and b"other-file" not in ranged.data
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert words in page and "other-file-line" not in page
    live = client.get(f"/jobs/{job_id}/log?offset=0")
    assert live.status_code == 409 and live.json["error"]["code"] == "log_symlink"
    download = client.get(f"/jobs/{job_id}/log.txt")
    assert download.status_code == 302 and b"other-file" not in download.data
    after = client.get(download.headers["Location"]).get_data(as_text=True)
    assert words in after
