"""Sessions and the project's limits (issue 3), and the shared checks behind them."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.services import ServiceError
from portal.services import sessionspec as spec
from portal.services.requestcheck import capped_minutes, check_hardware

NOW = datetime(2030, 1, 1, 12, 0)
VIEW = {"available": True, "nodes": [{"cpus_total": 16, "mem_total_mb": 64000,
                                      "gpus": {"a100": [4, 0]}}]}


def test_never_runs_as_long_as_the_project_allows(ctx):
    out = spec.times({"end": "never"}, NOW, 240, {"max_minutes": 120})
    assert out["time_limit_min"] == 120 and out["end_at"] is None


def test_never_without_a_project_limit_leaves_the_partition_default(ctx):
    assert spec.times({"end": "never"}, NOW, 240, {"max_minutes": None})["time_limit_min"] is None


def test_hours_over_the_project_limit_are_refused_with_the_limit(ctx):
    with pytest.raises(ServiceError) as refused:
        spec.times({"end": "hours", "hours": "3"}, NOW, 240, {"max_minutes": 120})
    assert refused.value.code == "time_over_limit"
    assert str(refused.value.message) == (
        "This project allows at most 2 hours per session or job; you asked for 3.")
    assert spec.times({"end": "hours", "hours": "2"}, NOW, 240,
                      {"max_minutes": 120})["time_limit_min"] == 120


def test_per_user_gpu_cap_is_named_in_the_refusal(ctx):
    with pytest.raises(ServiceError) as refused:
        spec.hardware({"gpu_model": "a100", "gpu_count": "4"}, VIEW, {"gpus_per_user": 2})
    assert str(refused.value.message) == (
        "This project allows at most 2 GPUs per user; you asked for 4.")


def test_session_create_uses_the_projects_fields(world):
    from portal import db
    from portal.services import sessions as svc

    project = world["ursula"].memberships[0].project
    project.gpu_per_user, project.max_wall_minutes = 1, 60
    db.session.commit()
    data = {"name": "lab-1", "image": "jupyter", "cpus": "2", "mem_gb": "4",
            "allow_all": True, "end": "never"}
    with pytest.raises(ServiceError) as refused:
        svc.create_session(world["ursula"], {**data, "gpu_model": "a100", "gpu_count": "2"})
    assert refused.value.code == "over_quota"
    session = svc.create_session(world["ursula"], data)
    assert session.time_limit_min == 60
    assert "--time=60" in session.sbatch_args


@given(asked=st.one_of(st.none(), st.integers(1, 10**6)),
       cap=st.one_of(st.none(), st.integers(1, 10**6)))
def test_capped_minutes_never_exceeds_the_cap(asked, cap):
    try:
        out = capped_minutes(asked, {"max_minutes": cap})
    except ServiceError as exc:
        assert cap is not None and asked is not None and asked > cap
        assert exc.code == "time_over_limit"
        return
    assert out == (asked if asked is not None else cap)
    assert cap is None or out <= cap


@given(asked=st.integers(0, 64), limit=st.one_of(st.none(), st.integers(0, 64)),
       key=st.sampled_from(["gpus_per_user", "gpus", "cpus", "mem_gb"]))
def test_check_hardware_refuses_exactly_what_is_over(asked, limit, key):
    field = {"gpus_per_user": "gpu_count", "gpus": "gpu_count"}.get(key, key)
    try:
        check_hardware({field: asked}, {key: limit})
    except ServiceError as exc:
        assert limit is not None and asked > limit and exc.code == "over_quota"
        assert str(limit) in str(exc.message) and str(asked) in str(exc.message)
        return
    assert limit is None or asked <= limit
