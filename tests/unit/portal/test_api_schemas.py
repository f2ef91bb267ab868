"""The typed API schemas (portal/api/schemas) serialise answers without changing them:
what a client got before it gets now, and a mismatch is logged, not a failed request."""

from __future__ import annotations

import logging

import pytest

from portal.api.schemas import check_fields
from portal.api.schemas.jobs import Efficiency, JobInput, Schedule
from portal.api.schemas.wallet import WalletFilters
from portal.services import ServiceError

FIGURES = {"cpu_percent": 50, "memory_percent": None, "gpu_percent": 12.5, "elapsed_s": 60,
           "cpu_time_s": 30, "cpus": 1, "max_memory_mb": None, "memory_mb": 1024, "gpus": 0,
           "gpu_samples": 0, "slurm_state": "COMPLETED"}


def test_an_answer_comes_out_as_it_went_in():
    out = Efficiency.dump({**FIGURES, "new_field": [1]})
    assert out == {**FIGURES, "new_field": [1]}
    assert isinstance(out["cpu_percent"], int)  # 50 stays 50, not 50.0


def test_an_optional_field_the_route_left_out_stays_out():
    schedule = {"id": 1, "name": "s", "description": None, "cron": "* * * * *",
                "timezone": "UTC", "start_at": None, "end_at": None, "mode": "single",
                "missed_policy": "skip", "status": "active", "template_id": None,
                "upcoming_job": None}
    assert "history" not in Schedule.dump(schedule)


def test_a_field_named_like_a_keyword_keeps_its_name():
    args = {"from": "2026-01-01", "to": "", "type": None, "service": None}
    assert WalletFilters.dump(args) == args


def test_a_mismatch_is_logged_and_the_answer_is_unchanged(caplog):
    wrong = {**FIGURES, "cpus": "one"}
    with caplog.at_level(logging.ERROR, logger="portal.api.schemas"):
        assert Efficiency.dump(wrong) is wrong
    assert "Efficiency does not match its schema" in caplog.text


def test_a_field_check_answers_the_routes_own_code():
    errors = {"template_id": ("template_id must be an integer.", "invalid_template")}
    check_fields(JobInput, {"template_id": "7"}, errors)
    check_fields(JobInput, {"template_id": None}, errors)
    with pytest.raises(ServiceError) as caught:
        check_fields(JobInput, {"template_id": "seven"}, errors)
    assert (caught.value.code, caught.value.status) == ("invalid_template", 400)
