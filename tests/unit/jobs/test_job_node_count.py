"""Multi-node batch jobs (issue #15): the node count is checked against the partition the
job goes to, quotas and prices count every node, and sbatch gets --nodes as an argv flag."""

from __future__ import annotations

import shlex
import subprocess
from decimal import Decimal

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.scheduler import JobSpec
from adapters.scheduler.slurm import sbatch_args
from portal import cli, cli_common, db
from portal.models import Job
from portal.services import ServiceError, cluster, pricing
from portal.services import jobs as jobsvc
from portal.services import jobscript as scripts
from portal.services.jobspec import MAX_NODES, parse_request, validate_node_count
from tests.conftest import PASSWORD, csrf_from

# Two GPU nodes in "gpu" (the default partition), one CPU node in "cpu".
VIEW = {
    "available": True,
    "nodes": [
        {"name": "gpu1", "cpus_total": 8, "mem_total_mb": 16384, "gpus": {"a100": [2, 0]}},
        {"name": "gpu2", "cpus_total": 8, "mem_total_mb": 16384, "gpus": {"a100": [2, 0]}},
        {"name": "cpu1", "cpus_total": 8, "mem_total_mb": 16384, "gpus": {}},
    ],
    "partitions": [
        {"name": "gpu", "default": True, "nodes": ["gpu1", "gpu2"]},
        {"name": "cpu", "default": False, "nodes": ["cpu1"]},
        {"name": "all", "default": False, "nodes": ["gpu1", "gpu2", "cpu1"]},
    ],
}


@given(st.one_of(st.integers(min_value=-5, max_value=40), st.text(max_size=6),
                 st.none(), st.booleans(), st.floats(allow_nan=True)),
       st.one_of(st.none(), st.integers(min_value=1, max_value=32)))
@settings(max_examples=300, deadline=None)
def test_the_node_count_is_a_whole_number_within_the_partition(value, high):
    """Anything that is not a whole number from 1 to the partition's node count is refused
    with one code; what passes is an int in range, and empty means 1."""
    try:
        count = validate_node_count(value, high, "gpu")
    except ServiceError as exc:
        assert exc.code == "invalid_node_count"
        return
    assert isinstance(count, int) and not isinstance(count, bool)
    assert 1 <= count <= (high or MAX_NODES)
    if value in (None, ""):
        assert count == 1
    else:
        assert count == int(str(value).strip())


def test_the_error_names_the_partition_and_its_size(app):
    with app.test_request_context(), pytest.raises(ServiceError) as err:
        validate_node_count("3", 2, "gpu")
    assert err.value.code == "invalid_node_count"
    assert "gpu" in str(err.value.message) and "2" in str(err.value.message)


def _parse(app, **fields):
    data = {"image": "base", "command": "hostname", "cpus": "2", "mem_gb": "4", **fields}
    with app.test_request_context():
        return parse_request(None, data, VIEW)


def test_gpu_jobs_may_span_the_gpu_nodes_and_cpu_jobs_the_cpu_partition(app):
    assert _parse(app, gpu_model="a100", gpu_count="2", node_count="2").node_count == 2
    assert _parse(app).node_count == 1  # default
    with pytest.raises(ServiceError) as err:  # "cpu" has one node
        _parse(app, node_count="2")
    assert err.value.code == "invalid_node_count" and "cpu" in str(err.value.message)
    with pytest.raises(ServiceError) as err:
        _parse(app, gpu_model="a100", gpu_count="1", node_count="3")
    assert err.value.code == "invalid_node_count"


def test_quotas_count_every_node(app):
    with app.test_request_context():
        limits = {"cpus": 6, "gpus": 3}
        data = {"image": "base", "command": "x", "cpus": "3", "gpu_model": "a100",
                "gpu_count": "1", "node_count": "2"}
        assert parse_request(None, data, VIEW, limits=limits).node_count == 2  # 6 CPUs, 2 GPUs
        with pytest.raises(ServiceError) as err:
            parse_request(None, {**data, "gpu_count": "2"}, VIEW, limits=limits)  # 4 GPUs
        assert err.value.code == "over_quota" and "4" in str(err.value.message)
        with pytest.raises(ServiceError) as err:
            parse_request(None, {**data, "cpus": "4"}, VIEW, limits=limits)  # 8 CPUs
        assert err.value.code == "over_quota"


def test_sbatch_gets_nodes_and_one_task_per_node_as_flags():
    args = sbatch_args(JobSpec(script="#!/bin/bash\n", nodes=2, ntasks_per_node=1, cpus=4,
                               mem="8G", gres="gpu:a100:1"))
    assert "--nodes=2" in args and "--ntasks-per-node=1" in args
    assert "--cpus-per-task=4" in args and "--mem=8G" in args and "--gres=gpu:a100:1" in args
    assert all(a.startswith("--") and "=" in a for a in args[1:])  # no shell strings
    with pytest.raises(ValueError):
        JobSpec(script="#!/bin/bash\n", nodes=0)


def test_a_two_node_job_is_submitted_with_nodes_and_runs_the_container_on_each(
        member, backend, job_data, monkeypatch):
    monkeypatch.setattr(cluster, "cached_view", lambda: VIEW)
    job = jobsvc.create_job(member(), {**job_data, "gpu_model": "a100", "gpu_count": "1",
                                       "node_count": "2"})
    spec = backend.scheduler.specs[job.slurm_job_id]
    assert (spec.nodes, spec.ntasks_per_node, spec.cpus, spec.gres) == (2, 1, 2, "gpu:a100:1")
    assert "--nodes=2" in job.sbatch_args and job.node_count == 2
    srun = [ln for ln in job.script.split("\n") if ln.startswith("exec srun ")]
    assert len(srun) == 1 and shlex.split(srun[0])[-2:] == ["/bin/bash",
                                                            f"{job.directory}/command.sh"]
    subprocess.run(["bash", "-n"], input=job.script.encode(), check=True)
    # A one-node job is submitted as before: no --nodes, the container started directly.
    one = jobsvc.create_job(job.user, {**job_data, "name": "one"})
    assert not [a for a in one.sbatch_args if a.startswith(("--nodes", "--ntasks"))]
    assert "exec srun" not in one.script and one.node_count == 1


def test_too_many_nodes_changes_nothing(member, backend, job_data, monkeypatch):
    monkeypatch.setattr(cluster, "cached_view", lambda: VIEW)
    with pytest.raises(ServiceError) as err:
        jobsvc.create_job(member(), {**job_data, "node_count": "2"})  # cpu: one node
    assert err.value.code == "invalid_node_count"
    assert backend.scheduler.calls == [] and db.session.query(Job).count() == 0


def test_the_price_per_hour_is_one_nodes_times_the_nodes(app, monkeypatch):
    weights = {"CPU": "1", "Mem": "0.25G", "GRES/gpu": "10"}
    monkeypatch.setattr(pricing, "weights_for", lambda *a, **k: (weights, True))
    with app.app_context():
        one = pricing.rate("a100", 1, 2, 4, view=VIEW)
        two = pricing.rate("a100", 1, 2, 4, view=VIEW, nodes=2)
    assert one.billing == Decimal(13) and two.billing == 2 * one.billing
    assert two.hourly == 2 * one.hourly


def test_script_for_several_nodes_keeps_every_value_one_word():
    data = scripts.ScriptInput(job_id=7, tag="t", name="n", user="alice", home="/home/alice",
                               workspace="/home/alice", directory="/home/alice/j/7 x'y",
                               image_path="/var/images/base", image_key="base",
                               shell="/bin/bash", gpus=0, shm_gb=0, nodes=3)
    script = scripts.render(data, ["--nodes=3"])
    line = [ln for ln in script.split("\n") if ln.startswith("exec srun ")][0]
    assert shlex.split(line)[-1] == "/home/alice/j/7 x'y/command.sh"
    subprocess.run(["bash", "-n"], input=script.encode(), check=True)


def test_the_page_keeps_both_nodes_while_the_job_completes_on_one(app):
    """squeue lists only the nodes still completing; the job ran on both."""
    from portal.services import jobsync

    job = Job(state="running", nodes="gpu1,gpu2", node_count=2)
    with app.test_request_context():
        jobsync.apply(job, {"state": "completing", "nodes": ["gpu2"]})
        assert job.nodes == "gpu1,gpu2"
        running = Job(state="pending", nodes=None, node_count=2)
        jobsync.apply(running, {"state": "running", "nodes": ["gpu1", "gpu2"]})
        assert running.nodes == "gpu1,gpu2"


def test_cli_nodes_and_templates_carry_the_node_count(app, outside_member, backend,
                                                       monkeypatch):
    """`job run --nodes 2` and a template with --nodes: the CLI says the sizes are per
    node, and the template's runs get --nodes=2 as well."""
    monkeypatch.setattr(cli_common, "make_app", lambda: app)
    monkeypatch.setattr(cluster, "cached_view", lambda: VIEW)
    outside_member("ursula")
    runner = CliRunner()
    assert "per node" in runner.invoke(cli.main, ["job", "run", "--help"]).output
    common = ["--user", "ursula", "--gpu-model", "a100", "--gpus", "1", "--nodes", "2",
              "--command", "hostname"]
    result = runner.invoke(cli.main, ["job", "run", "--name", "cli-n2", *common])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli.main, ["template", "create", "tn", *common])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli.main, ["template", "run", "1", "--user", "ursula"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli.main, ["job", "run", "--name", "cli-n3", *common[:-4],
                                      "--nodes", "3", "--command", "x"])
    assert result.exit_code == 1 and "from 1 to 2" in result.output
    with app.app_context():
        jobs = db.session.query(Job).order_by(Job.id).all()
        assert [(j.name, j.node_count) for j in jobs] == [("cli-n2", 2), ("tn-1", 2)]
        assert all("--nodes=2" in j.sbatch_args for j in jobs)


def test_the_form_shows_the_node_field_and_its_price_counts_every_node(
        app, client, outside_member, backend, monkeypatch):
    weights = {"CPU": "1", "Mem": "0.25G", "GRES/gpu": "10"}
    monkeypatch.setattr(pricing, "weights_for", lambda *a, **k: (weights, True))
    monkeypatch.setattr(cluster, "cached_view", lambda: VIEW)
    outside_member("ursula")
    page = client.get("/login")
    client.post("/login", data={"username": "ursula", "password": PASSWORD,
                                "csrf_token": csrf_from(page.get_data(as_text=True))})
    form = client.get("/jobs/new").get_data(as_text=True)
    assert 'name="node_count"' in form and "per node" in form
    ask = "/wallet/estimate?kind=job&gpu_model=a100&gpu_count=1&cpus=2&mem_gb=4"
    one = client.get(ask).json
    two = client.get(ask + "&node_count=2").json
    assert Decimal(two["hourly"]) == 2 * Decimal(one["hourly"]) > 0


def test_an_ended_two_node_job_waits_for_sacct_to_record_both_nodes(app):
    """slurmdbd first records a 2-node job's end with NodeList `gpu1` and `node=2` in its
    TRES (measured on the multi-node dev cluster); the row waits for the full record, and
    takes the short one only once SACCT_LAG has passed."""
    from types import SimpleNamespace

    from adapters.scheduler import JobInfo, JobState
    from portal.services import jobsync

    ended = db.utcnow().replace(microsecond=0)
    record = JobInfo(id="41", name="n2", user="alice", state=JobState.COMPLETED,
                     slurm_state="COMPLETED", nodes=["gpu1"], exit_code=0,
                     tres="billing=2,cpu=2,mem=1000M,node=2", end_time=ended)
    backend = SimpleNamespace(scheduler=SimpleNamespace(history=lambda ids: [record]))
    with app.test_request_context():
        job = Job(state="running", slurm_job_id="41", nodes="gpu1", node_count=2)
        assert jobsync._from_history(backend, [(job, None)], ended) == 0
        assert job.state == "running"
        record.nodes = ["gpu1", "gpu2"]
        jobsync._from_history(backend, [(job, None)], ended)
        assert (job.state, job.nodes) == ("completed", "gpu1,gpu2")
        record.nodes = ["gpu1"]
        late = Job(state="running", slurm_job_id="41", nodes=None, node_count=2)
        jobsync._from_history(backend, [(late, None)], ended + jobsync.SACCT_LAG * 2)
        assert (late.state, late.nodes) == ("completed", "gpu1")
