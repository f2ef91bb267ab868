"""Validators and parsers (property-tested), pending reasons in words, usage from the cache."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.services import ServiceError
from portal.services import project_rules as rules
from portal.services import project_usage as pu
from portal.services.slurm_reasons import describe
from tests.unit.projects.conftest import job


@pytest.fixture(scope="module")
def plain():
    """An app context for lazy (translatable) strings; no database involved."""
    from portal import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    with app.test_request_context("/"):
        yield


REASONS = ["Resources", "Priority", "QOSGrpGRES", "QOSGrpCpuLimit", "QOSGrpMemLimit",
           "AssocGrpGRES", "AssocGrpCpuLimit", "AssocGrpMemLimit", "QOSMaxGRESPerUser",
           "AssocMaxJobsLimit", "QOSMaxWallDurationPerJobLimit", "AssocGrpBillingMinutes",
           "QOSGrpBillingMinutes", "BeginTime", "Dependency", "JobHeldUser", "JobHeldAdmin",
           "ReqNodeNotAvail", "PartitionTimeLimit", "InvalidAccount", "AccountNotAllowed",
           "AssocGrpJobsLimit", "AssocGrpSubmitJobsLimit"]


def test_every_common_reason_is_a_sentence(plain):
    for code in REASONS:
        text = describe(code)
        assert text != code and text.endswith(".") and len(text) > 20, code
    assert describe("QOSGrpGRES").startswith("The project's GPU quota is used up")
    assert describe("(Priority)") == describe("Priority")
    assert "GPUs" in describe("AssocGrpGRESRunMinutes")  # from the code's grammar
    assert describe("SomethingNew") == "SomethingNew" and describe(None) == ""


@given(st.one_of(st.none(), st.text(max_size=60)))
def test_describe_never_fails(plain, code):
    assert isinstance(describe(code), str)


@given(st.text(max_size=40))
def test_account_names_are_plain_slurm_names(plain, text):
    try:
        name = rules.validate_account(text)
    except ServiceError:
        return
    assert name == name.lower() and name.isascii() and 2 <= len(name) <= 32
    assert not set(name) - set("abcdefghijklmnopqrstuvwxyz0123456789_-")


@given(st.one_of(st.integers(-10**12, 10**12), st.text(max_size=12), st.floats(),
                 st.booleans(), st.none()))
def test_limits_are_whole_numbers_in_range_or_a_clear_refusal(plain, value):
    try:
        number = rules.parse_limit("gpu_limit", value)
    except ServiceError as exc:
        assert exc.code == "invalid_limit" and "GPU quota" in str(exc.message)
        return
    assert number is None or 0 <= number <= 10_000
    assert not isinstance(value, bool)


def test_usage_counts_running_jobs_of_each_account(app, ctx):
    jobs = [job(1, tres="cpu=4,mem=8G,node=1,billing=24,gres/gpu=2,gres/gpu:a100=2"),
            job(2, gres="gpu:a100:1", nodes=["vm", "vm2"]),  # from squeue: per node
            job(3, state="queued", gres="gpu:a100:4", reason="QOSGrpGRES"),
            job(4, account="other", tres="cpu=1,mem=500M,gres/gpu=1")]
    usage = pu.usage_by_account(jobs)
    tproj = usage["tproj"]
    assert (tproj.gpus, tproj.cpus, tproj.mem_mb) == (4, 4, 8192)
    assert (tproj.running, tproj.pending, tproj.partial) == (2, 1, True)
    assert (usage["other"].gpus, usage["other"].mem_mb) == (1, 500)


def test_portal_jobs_fill_in_cpus_and_memory_the_cache_lacks(app, people, project, ctx):
    from portal import db
    from portal.models import Job

    db.session.add(Job(uuid="u1", user_id=people["max"].id, project_id=project, name="j",
                       account="tproj", directory="/tmp", slurm_job_id="2", cpus=3, mem_gb=2,
                       gpu_count=1, image="x", command="true", state="running"))
    db.session.commit()
    tproj = pu.usage_by_account([job(2, gres="gpu:a100:1")])["tproj"]
    assert (tproj.gpus, tproj.cpus, tproj.mem_mb, tproj.partial) == (1, 3, 2048, False)


def test_members_see_their_own_jobs_managers_see_all(app, people, project, ctx):
    from portal import db
    from portal.models import Project, ProjectRole

    p = db.session.get(Project, project)
    jobs = [job(1, user="bin"), job(2, user="daemon", state="queued", reason="QOSGrpGRES")]
    mine = pu.visible_jobs(people["max"], p, ProjectRole.MEMBER, jobs)
    assert [j["id"] for j in mine] == ["1"]
    everyone = pu.visible_jobs(people["mia"], p, ProjectRole.MANAGER, jobs)
    assert [j["id"] for j in everyone] == ["1", "2"]
    assert everyone[1]["reason_text"].startswith("The project's GPU quota is used up")


def test_dates(plain):
    assert rules.parse_date("", "End date") is None and rules.parse_date(None, "x") is None
    assert str(rules.parse_date(" 2030-01-31 ", "End date")) == "2030-01-31"
    for bad in ("2025-02-30", "tomorrow", "2025-13-01"):
        with pytest.raises(ServiceError):
            rules.parse_date(bad, "End date")
