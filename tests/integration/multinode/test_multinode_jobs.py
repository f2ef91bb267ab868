"""Multi-node portal batch jobs on the multi-node dev cluster (issue #15): a job asked for
on the run-job form with 2 nodes runs its container on gpu1 and gpu2 (sbatch --nodes=2),
its page lists both nodes, and its log holds both nodes' output. More nodes than the
partition has is refused on the form, and nothing is submitted.

The cluster and the portal pointed at it are those of test_multinode_cluster.py.
"""

from __future__ import annotations

import re
import time

import pytest

from portal import db
from portal.models import Job
from portal.services import joblog
from portal.services import jobs as jobsvc
from tests.integration.multinode.test_multinode_cluster import devmulti, portal  # noqa: F401
from tests.integration.sessions.sessionhelpers import Browser, cycle, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("multinode")]


def _run_form(browser: Browser, fields: dict) -> tuple[int, dict, str]:
    base = {"csrf_token": browser.csrf("/jobs/new"), "gpu_model": "a100", "gpu_count": "1",
            "cpus": "1", "mem_gb": "1", "shm_gb": "0", "image_type": "public",
            "image": "base", "time_limit": "0:05:00"}
    status, headers, body = browser.form("/jobs/new", {**base, **fields})
    return status, headers, body.decode()


def test_a_two_node_job_from_the_form_runs_on_both_gpu_nodes(portal):  # noqa: F811
    app, server, prefix = portal
    browser = Browser(server.url)
    browser.login("alice")
    command = 'echo "ran-on-$(hostname) node-$SLURM_NODEID"'
    started = time.monotonic()
    status, headers, body = _run_form(browser, {"name": f"{prefix}-n2", "node_count": "2",
                                                "command": command})
    assert status == 302, body[-2000:]
    job_id = int(re.search(r"/jobs/(\d+)$", headers["Location"]).group(1))
    with app.app_context():
        row = db.session.get(Job, job_id)
        assert row.node_count == 2 and "--nodes=2" in row.sbatch_args, row.sbatch_args
        db.session.remove()

    def finished():
        cycle(app)
        with app.test_request_context():
            row = db.session.get(Job, job_id)
            out = None
            if row.state in jobsvc.TERMINAL:
                out = (row.state, row.exit_code, row.nodes,
                       joblog.tail(row, jobsvc.get_backend()).text)
            db.session.remove()
            return out

    state, code, nodes, text = wait_for(finished, 180, step=1, what="the 2-node job to end")
    print(f"2-node job: submitted to ended {time.monotonic() - started:.1f}s")
    assert (state, code) == ("completed", 0), text
    assert sorted(nodes.split(",")) == ["gpu1", "gpu2"]
    # srun --label: each line starts with its task's number, one task per node.
    lines = sorted(ln.strip() for ln in text.splitlines() if ln.strip())
    assert lines == ["0: ran-on-gpu1 node-0", "1: ran-on-gpu2 node-1"], text
    page = browser.request(f"/jobs/{job_id}")[2].decode()
    shown = re.search(r'data-testid="job-nodes">([^<]*)<', page).group(1)
    assert "gpu1,gpu2" in shown and "2" in shown
    hardware = re.search(r'data-testid="job-hardware">([^<]*)<', page).group(1)
    assert "2" in hardware and "a100" in hardware


def test_more_nodes_than_the_partition_has_is_refused_on_the_form(portal):  # noqa: F811
    app, server, prefix = portal
    browser = Browser(server.url)
    browser.login("alice")
    with app.app_context():
        before = db.session.query(Job).count()
        db.session.remove()
    status, _, body = _run_form(browser, {"name": f"{prefix}-n3", "node_count": "3",
                                          "command": "true"})
    assert status == 400
    assert "from 1 to 2" in body and "gpu" in body
    with app.app_context():
        assert db.session.query(Job).count() == before
        db.session.remove()
