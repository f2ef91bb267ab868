"""JobSpec → sbatch flags, field by field, and the validation in front of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.errors import CommandTimeout, SlurmUnreachable
from adapters.runner import CommandResult
from adapters.scheduler import JobInfo, JobSpec, JobState, SlurmScheduler
from adapters.scheduler.slurm import parse_submitted, sbatch_args

SCRIPT = "#!/bin/bash\necho hi\n"


@pytest.mark.parametrize(
    "field, value, flag",
    [
        ("job_name", "my job", "--job-name=my job"),
        ("job_name", "-looks-like-an-option", "--job-name=-looks-like-an-option"),
        ("account", "proja", "--account=proja"),
        ("partition", "gpu", "--partition=gpu"),
        ("partition", "gpu,cpu", "--partition=gpu,cpu"),
        ("qos", "normal", "--qos=normal"),
        ("gres", "gpu:a100:2", "--gres=gpu:a100:2"),
        ("cpus", 4, "--cpus-per-task=4"),
        ("mem", "4G", "--mem=4G"),
        ("mem", 4096, "--mem=4096M"),
        ("time", 90, "--time=90"),
        ("time", "1-02:00:00", "--time=1-02:00:00"),
        ("begin", "now+60", "--begin=now+60"),
        ("begin", datetime(2030, 1, 2, 3, 4, 5), "--begin=2030-01-02T03:04:05"),
        ("dependency", "afterany:123", "--dependency=afterany:123"),
        ("dependency", "afterok:1:2,singleton", "--dependency=afterok:1:2,singleton"),
        ("comment", "portal:3f2a-uuid", "--comment=portal:3f2a-uuid"),
        ("workdir", "/home/alice/work", "--chdir=/home/alice/work"),
        ("output", "/home/alice/%j.out", "--output=/home/alice/%j.out"),
        ("error", "/home/alice/%j.err", "--error=/home/alice/%j.err"),
        ("hold", True, "--hold"),
        ("extra_env", {"B": "2", "A": "x y"}, "--export=ALL,A=x y,B=2"),
    ],
)
def test_each_field_becomes_one_flag(field, value, flag):
    args = sbatch_args(JobSpec(script=SCRIPT, **{field: value}))
    assert args == ["--parsable", flag]


def test_defaults_give_only_parsable():
    assert sbatch_args(JobSpec(script=SCRIPT)) == ["--parsable"]


def test_aware_begin_is_converted_to_local_time():
    moment = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    (flag,) = sbatch_args(JobSpec(script=SCRIPT, begin=moment))[1:]
    assert flag == "--begin=" + moment.astimezone().strftime("%Y-%m-%dT%H:%M:%S")


def test_script_is_never_in_the_arguments():
    args = sbatch_args(JobSpec(script="#!/bin/sh\n#SBATCH --account=evil\n", account="a"))
    assert all("#SBATCH" not in a and "evil" not in a for a in args)


@pytest.mark.parametrize(
    "field, value",
    [
        ("script", "echo no interpreter line"),
        ("script", b"#!/bin/sh\n"),
        ("job_name", "two\nlines"),
        ("job_name", ""),
        ("comment", "tab\there"),
        ("account", "proj a"),
        ("account", "proja\n"),
        ("partition", "gpu;rm"),
        ("qos", "--qos"),
        ("gres", "gpu:a100:2 --wrap"),
        ("gres", "gpu::2"),
        ("cpus", 0),
        ("cpus", True),
        ("cpus", "4"),
        ("mem", "4X"),
        ("mem", -1),
        ("mem", "0"),
        ("time", "abc"),
        ("time", 0),
        ("begin", "now + 60"),
        ("begin", "now+60\n"),
        ("dependency", "afterany:abc"),
        ("dependency", "afterany:1 2"),
        ("workdir", "relative/dir"),
        ("output", "a\x00b"),
        ("hold", "yes"),
        ("extra_env", {"1BAD": "x"}),
        ("extra_env", {"GOOD": "a,b"}),
        ("extra_env", {"GOOD": "two\nlines"}),
        ("extra_env", {"GOOD": 3}),
    ],
)
def test_invalid_fields_are_refused_with_a_clear_message(field, value):
    kwargs = {"script": SCRIPT, field: value}
    with pytest.raises(ValueError) as caught:
        JobSpec(**kwargs)
    assert field.split("_")[0] in str(caught.value)


@pytest.mark.parametrize("text", ["1234", "1234\n", "1234;devcluster\n", "warn\n1234\n"])
def test_parse_submitted(text):
    assert parse_submitted(text) == "1234"


@pytest.mark.parametrize("text", ["", "Submitted batch job 12", "12;"])
def test_parse_submitted_refuses_anything_else(text):
    with pytest.raises(ValueError):
        parse_submitted(text)


class ScriptedRunner:
    """Answers runner.run calls from a list of results or exceptions, recording argv."""

    def __init__(self, *answers):
        self.answers, self.calls = list(answers), []

    def run(self, argv, **kwargs):
        self.calls.append((list(argv), kwargs))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return CommandResult(list(argv), 0, answer, "")


def test_submit_runs_sbatch_as_the_user_with_the_script_on_stdin():
    runner = ScriptedRunner("42\n")
    sched = SlurmScheduler(runner=runner, bin_dir="/opt/slurm/bin")
    spec = JobSpec(script=SCRIPT, account="proja", workdir="/tmp")
    assert sched.submit(spec, as_user="alice") == "42"
    ((argv, kwargs),) = runner.calls
    assert argv == ["/opt/slurm/bin/sbatch", "--parsable", "--account=proja", "--chdir=/tmp"]
    assert kwargs == {"as_user": "alice", "input": SCRIPT}


def test_cluster_option_is_added():
    runner = ScriptedRunner("42;other\n")
    sched = SlurmScheduler(runner=runner, bin_dir="/b", cluster="other")
    assert sched.submit(JobSpec(script=SCRIPT, workdir="/tmp"), as_user="alice") == "42"
    assert runner.calls[0][0][:2] == ["/b/sbatch", "--clusters=other"]
    with pytest.raises(ValueError):
        SlurmScheduler(runner=runner, cluster="bad name")


def _job(tag):
    return JobInfo(
        id="77", name="x", user="alice", state=JobState.QUEUED, slurm_state="PENDING", comment=tag
    )


@pytest.mark.parametrize("failure", [CommandTimeout("slow"), SlurmUnreachable("down")])
def test_a_tagged_submit_without_an_answer_is_never_repeated(monkeypatch, failure):
    """Issue #13: a request queued in a frozen slurmctld is processed when it wakes, after
    a look-up may have said "not there"; looking up and resubmitting made two jobs."""
    sched = SlurmScheduler(runner=ScriptedRunner())
    submitted, looked_up = [], []

    def submit(spec, *, as_user):
        submitted.append(spec.comment)
        raise failure

    monkeypatch.setattr(sched, "submit", submit)
    monkeypatch.setattr(sched, "find_by_comment", lambda tag, *, user=None: looked_up.append(1))
    with pytest.raises(type(failure)):
        sched.submit_idempotent(JobSpec(script=SCRIPT), as_user="alice", tag="t1")
    assert submitted == ["t1"] and looked_up == []


def test_a_tagged_submit_carries_its_tag(monkeypatch):
    sched = SlurmScheduler(runner=ScriptedRunner())
    monkeypatch.setattr(sched, "submit", lambda spec, *, as_user: spec.comment)
    assert sched.submit_idempotent(JobSpec(script=SCRIPT), as_user="alice", tag="t2") == "t2"


def test_history_arguments():
    runner = ScriptedRunner("")
    sched = SlurmScheduler(runner=runner, bin_dir="/b")
    since = datetime.now().astimezone() - timedelta(hours=1)
    assert sched.history(["5", "6_1"], since=since, user="alice") == []
    argv = runner.calls[0][0]
    assert "--jobs=5,6_1" in argv and "--user=alice" in argv and "--allocations" in argv
    assert any(a.startswith("--starttime=") for a in argv)
    assert sched.history([]) == [] and len(runner.calls) == 1


@pytest.mark.parametrize("bad", ["12;rm", "-1", "1 2", "", "abc"])
def test_job_ids_are_validated_before_any_command(bad):
    runner = ScriptedRunner()
    sched = SlurmScheduler(runner=runner)
    for call in (sched.hold, sched.release, sched.delete):
        with pytest.raises(ValueError):
            call(bad, as_user="alice")
    with pytest.raises(ValueError):
        sched.info(bad)
    assert runner.calls == []


def test_info_all_filters_in_one_call():
    runner = ScriptedRunner("")
    sched = SlurmScheduler(runner=runner, bin_dir="/b")
    sched.info_all(user="alice", account="proja", job_ids=["1", "2"], states=["queued"])
    ((argv, _),) = runner.calls
    assert argv[0] == "/b/squeue" and "--states=all" in argv and "--noheader" in argv
    assert argv[-3:] == ["--user=alice", "--account=proja", "--jobs=1,2"]
    assert sched.info_all(job_ids=[]) == [] and len(runner.calls) == 1


def _info(state, **kw):
    return JobInfo(id="9", name="rec", user="alice", state=state, slurm_state=state.name, **kw)


def test_info_prefers_squeue_and_takes_only_the_exit_code_from_a_lagging_sacct(monkeypatch):
    sched = SlurmScheduler(runner=ScriptedRunner())
    live = _info(JobState.FAILED, gres="gpu:a100:2")
    monkeypatch.setattr(sched, "_squeue", lambda filters, as_user=None: [live])
    stale = _info(JobState.QUEUED)  # slurmdbd has not heard of the end yet
    monkeypatch.setattr(sched, "history", lambda ids: [stale])
    assert sched.info("9") is live and live.exit_code is None
    done = _info(JobState.FAILED, exit_code=3, exit_signal=0, tres="cpu=1")
    monkeypatch.setattr(sched, "history", lambda ids: [done])
    job = sched.info("9")
    assert (job.state, job.exit_code, job.gres, job.tres) == (
        JobState.FAILED,
        3,
        "gpu:a100:2",
        "cpu=1",
    )


def test_info_survives_a_down_accounting_db_while_squeue_has_the_job(monkeypatch):
    sched = SlurmScheduler(runner=ScriptedRunner())
    live = _info(JobState.COMPLETED)
    monkeypatch.setattr(sched, "_squeue", lambda filters, as_user=None: [live])

    def down(ids):
        raise SlurmUnreachable("Problem talking to the database")

    monkeypatch.setattr(sched, "history", down)
    assert sched.info("9") is live
    monkeypatch.setattr(sched, "_squeue", lambda filters, as_user=None: [])
    with pytest.raises(SlurmUnreachable):
        sched.info("9")
    assert sched.status("9") is JobState.UNKNOWN
