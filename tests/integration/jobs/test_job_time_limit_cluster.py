"""Issue #16, item 3, against the dev cluster: the time limit asked for through the API and
the CLI (`portal job run --time`) is the TimeLimit Slurm shows, a template keeps its limit
for its runs, and a limit over the project's MaxWall is refused before anything reaches
Slurm, naming the limit."""

from __future__ import annotations

import re

from click.testing import CliRunner

from adapters.runner import CommandRunner
from portal import cli, cli_common, db
from portal.models import Job
from portal.services import ServiceError, jobs, jobtemplates, tokens
from tests.integration.jobs.jobhelpers import add_member


def _time_limit(job_id: str) -> str:
    shown = CommandRunner().run(["scontrol", "show", "job", job_id]).stdout
    return re.search(r"TimeLimit=(\S+)", shown).group(1)


SPEC = {"cpus": 1, "mem_gb": 1, "image": "base", "command": "sleep 2"}


def test_api_and_cli_time_limits_reach_slurm(cluster_ctx, prefix, slurm, monkeypatch):
    alice = add_member("alice", "proja")
    _, token = tokens.create_token(alice, "t")
    client = cluster_ctx.test_client()
    auth = {"Authorization": f"Bearer {token}"}

    made = client.post("/api/v1/jobs", headers=auth,
                       json={**SPEC, "name": f"{prefix}-api", "time_limit": "0:02:00"})
    assert made.status_code == 201, made.json
    assert made.json["time_limit_min"] == 2
    assert _time_limit(made.json["slurm_job_id"]) == "00:02:00"

    default = client.post("/api/v1/jobs", headers=auth, json={**SPEC, "name": f"{prefix}-d"})
    assert default.json["time_limit_min"] == 240  # the partition's DefaultTime, recorded
    assert _time_limit(default.json["slurm_job_id"]) == "04:00:00"

    bad = client.post("/api/v1/jobs", headers=auth,
                      json={**SPEC, "name": f"{prefix}-bad", "time_limit": "two hours"})
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_time_limit"
    assert "sbatch --time" in bad.json["error"]["message"]

    monkeypatch.setattr(cli_common, "make_app", lambda: cluster_ctx)
    result = CliRunner().invoke(cli.main, [
        "job", "run", "--name", f"{prefix}-cli", "--cpus", "1", "--mem-gb", "1",
        "--command", "sleep 2", "--time", "3", "--user", "alice"])
    assert result.exit_code == 0, result.output
    assert "time limit 0:03:00" in result.output
    slurm_id = re.search(r"Slurm job (\d+)", result.output).group(1)
    assert _time_limit(slurm_id) == "00:03:00"


def test_template_keeps_its_limit_and_maxwall_caps_it(cluster_ctx, prefix, slurm):
    alice = add_member("alice", "proja")
    template = jobtemplates.create_template(alice, {**SPEC, "name": f"{prefix}t",
                                                    "time_limit": "1:30:00"})
    job = jobtemplates.run_template(alice, template.id)
    assert _time_limit(job.slurm_job_id) == "01:30:00"

    project = alice.memberships[0].project
    project.max_wall_minutes = 60  # the portal's record of the project's MaxWall
    db.session.commit()
    try:
        jobs.create_job(alice, {**SPEC, "name": f"{prefix}-long", "time_limit": "2:00:00"})
    except ServiceError as exc:
        assert exc.code == "time_over_limit" and "at most 1 hours" in str(exc.message)
    else:
        raise AssertionError("a limit over the MaxWall was accepted")
    assert db.session.query(Job).filter_by(name=f"{prefix}-long").count() == 0
    capped = jobs.create_job(alice, {**SPEC, "name": f"{prefix}-cap"})
    assert capped.time_limit_min == 60 and _time_limit(capped.slurm_job_id) == "01:00:00"
