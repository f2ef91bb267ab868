"""Issue #17, item 4, on the dev cluster: the create form's estimate shows the free GPUs
per model from the worker's cache and, once the worker has asked Slurm (`sbatch
--test-only` as the user), when Slurm would start the request; the page's path never runs a
Slurm command."""

from __future__ import annotations

from portal.services import estimate as estimates
from tests.integration.jobs.jobhelpers import add_member, cycle


class NoSlurm:
    """Stands in for the runner while the page's estimate runs: any command fails."""

    def run(self, *args, **kwargs):
        raise AssertionError(f"a Slurm command on the page's path: {args}")


def test_form_shows_free_gpus_and_the_start_slurm_expects(cluster_ctx, monkeypatch):
    alice = add_member("alice", "proja")
    membership = alice.memberships[0]
    ask = {"gpu_model": "a100", "gpu_count": "1", "cpus": "1", "mem_gb": "1",
           "time_limit": "30"}
    import adapters.runner

    real_run = adapters.runner.CommandRunner.run
    monkeypatch.setattr(adapters.runner.CommandRunner, "run", NoSlurm().run)
    first = estimates.estimate(membership, ask, "job")
    monkeypatch.setattr(adapters.runner.CommandRunner, "run", real_run)
    assert any(g["model"] == "a100" and g["total"] == 4 for g in first["free_gpus"])
    assert first["availability"][0].startswith("Free GPUs now: a100 ")
    assert first["start"]["state"] == "pending" and first["start_pending"]
    assert "Asking Slurm" in first["start"]["text"]

    summary = cycle(cluster_ctx)
    assert summary["steps"]["start_estimates"]["ok"], summary
    answer = estimates.estimate(membership, ask, "job")
    assert answer["start"]["state"] == "known", answer["start"]
    assert answer["start"]["start_at"] and not answer["start_pending"]
    assert ("would start this at once" in answer["start"]["text"]
            or "expects to start this at" in answer["start"]["text"])

    too_big = {**ask, "gpu_count": "9"}
    estimates.estimate(membership, too_big, "job")
    cycle(cluster_ctx)
    refused = estimates.estimate(membership, too_big, "job")
    assert refused["start"]["state"] == "refused"
    assert "Requested node configuration is not available" in refused["start"]["text"]


def test_a_pending_job_says_when_slurm_expects_it_to_start(cluster_ctx, prefix, slurm):
    from datetime import timedelta

    from adapters.scheduler import JobSpec
    from portal import db
    from portal.services import startest

    job_id = slurm.submit(JobSpec(script="#!/bin/sh\ntrue\n", account="proja",
                                  job_name=f"{prefix}-later", time=5, begin="now+3600"),
                          as_user="alice")
    cycle(cluster_ctx)  # the snapshot the pages read
    when = startest.expected_start(job_id)
    assert when is not None
    assert abs(when - (db.utcnow() + timedelta(hours=1))) < timedelta(minutes=2)
    words = startest.waiting_words("It waits for its start time.", job_id)
    assert words.startswith("It waits for its start time. Slurm expects it to start at ")
    assert startest.waiting_words("x", "999999999") == "x"
