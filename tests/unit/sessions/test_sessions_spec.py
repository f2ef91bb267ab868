"""The create form's validators: property tests (never anything but ServiceError) and the
rules at their edges."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.services import ServiceError
from portal.services import sessionspec as spec

NOW = datetime(2030, 1, 1, 12, 0)
ANY = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30))


@given(ANY)
def test_int_field_returns_an_int_in_range_or_refuses(raw):
    try:
        value = spec.int_field({"n": raw}, "n", 1, 1, 16, "invalid_n", "N")
    except ServiceError as exc:
        assert exc.code == "invalid_n" and "1 to 16" in str(exc.message)
        return
    assert isinstance(value, int) and 1 <= value <= 16


@given(st.text(max_size=80))
def test_names_are_safe_or_refused(text):
    try:
        name = spec.validate_name(text)
    except ServiceError as exc:
        assert exc.code == "invalid_name"
        return
    assert name.isascii() and not set(name) & set(" ;|&$`'\"\\/\n")


@given(ANY)
def test_times_parse_or_refuse(raw):
    try:
        value = spec.parse_time(raw, "invalid_begin", "Start")
    except ServiceError as exc:
        assert exc.code == "invalid_begin"
        return
    assert value.tzinfo is None


@given(st.dictionaries(st.sampled_from(["start", "begin_at", "end", "end_at", "hours"]),
                       ANY, max_size=5))
def test_time_choices_never_crash(data):
    try:
        out = spec.times(data, NOW)
    except ServiceError:
        return
    assert out["time_limit_min"] is None or out["time_limit_min"] > 0


def test_end_at_gives_a_time_limit_from_the_start():
    out = spec.times({"start": "at", "begin_at": "2030-01-02T00:00+00:00", "end": "at",
                      "end_at": "2030-01-02T01:30+00:00"}, NOW)
    assert out["time_limit_min"] == 90 and out["begin_at"] == datetime(2030, 1, 2)


def test_end_before_start_and_over_the_partition_limit_are_refused():
    with pytest.raises(ServiceError) as refused:
        spec.times({"end": "at", "end_at": "2029-12-31T00:00+00:00"}, NOW)
    assert refused.value.code == "end_before_start"
    with pytest.raises(ServiceError) as refused:
        spec.times({"end": "hours", "hours": 5}, NOW, max_minutes=240)
    assert refused.value.code == "time_over_limit" and "4.0 hours" in str(refused.value.message)


def test_begin_more_than_a_year_ahead_is_refused():
    later = (NOW + timedelta(days=400)).isoformat()
    with pytest.raises(ServiceError) as refused:
        spec.times({"start": "at", "begin_at": later}, NOW)
    assert refused.value.code == "invalid_begin"


def test_quota_lowers_the_node_limits():
    view = {"available": True, "nodes": [{"cpus_total": 16, "mem_total_mb": 64000,
                                          "gpus": {"a100": [4, 0]}}]}
    with pytest.raises(ServiceError) as refused:
        spec.hardware({"gpu_model": "a100", "gpu_count": 3}, view, quota={"gpus": 2})
    assert refused.value.code == "over_quota"
    assert "quota is 2 GPUs; you asked for 3" in str(refused.value.message)
    out = spec.hardware({"gpu_count": 2, "cpus": 4, "mem_gb": 8, "shm_gb": 8}, view)
    assert out == {"gpu_model": "a100", "gpu_count": 2, "cpus": 4, "mem_gb": 8, "shm_gb": 8}
