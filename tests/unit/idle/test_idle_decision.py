"""Idle reclaim (issue #17, item 2): the idle decision from activity, GPU load, warning
points and Keep, without any I/O."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from portal.services import ServiceError
from portal.services.idle import clean_policy, decide, may_keep

T0 = datetime(2026, 12, 5, 12, 0, 0)
POLICY = {"limit_s": 7200, "warn_s": [3600, 6300]}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def run(now_min, *, activity=None, kept=None, busy=None, gpus=False, known=True,
        warned=(), period=None, **kw):
    return decide(at(now_min), started_at=T0,
                  last_activity=None if activity is None else at(activity),
                  kept_at=None if kept is None else at(kept),
                  gpu_busy_until=None if busy is None else at(busy), gpu_known=known,
                  has_gpus=gpus, warned=list(warned),
                  period_start=period, **{**POLICY, **kw})


def test_a_cpu_only_session_without_activity_is_warned_at_each_point_then_ended():
    assert run(59).action == "none"
    first = run(61)
    assert (first.action, first.point, first.warned) == ("warn", 3600, [3600])
    # the next cycle of the same period: nothing new to send
    assert run(62, warned=first.warned, period=first.idle_since).action == "none"
    second = run(106, warned=first.warned, period=first.idle_since)
    assert (second.action, second.point) == ("warn", 6300)
    assert run(120, warned=[3600, 6300], period=T0).action == "end"


def test_activity_restarts_the_clock_and_the_warnings():
    d = run(110, activity=100, warned=[3600, 6300], period=T0)
    assert d.action == "none" and d.idle_s == 600 and d.warned == []
    assert run(161, activity=100).action == "warn"


def test_a_gpu_session_is_busy_while_its_gpus_are_over_the_threshold():
    # no activity for 3 h, but the GPUs were busy until 10 minutes ago
    d = run(180, gpus=True, busy=170)
    assert d.action == "none" and d.idle_s == 600
    # GPU load does not count for a CPU-only session (it has no GPUs to judge)
    assert run(180, gpus=False, busy=170).action == "end"
    # under the threshold all along (no busy sample): activity alone decides
    assert run(121, gpus=True, busy=None, activity=0).action == "end"


def test_a_gpu_session_without_telemetry_is_never_ended_unless_configured():
    d = run(500, gpus=True, known=False)
    assert d.action == "none" and d.unknown_gpu and d.idle_since is None
    assert run(500, gpus=True, known=False, unknown_is_idle=True).action == "end"


def test_keep_restarts_the_clock_once_per_idle_period():
    d = run(130, kept=106, warned=[3600, 6300], period=T0)
    assert d.action == "none" and d.idle_s == 24 * 60
    assert may_keep(None, None)
    assert not may_keep(at(106), None)          # kept, never used since: no second keep
    assert not may_keep(at(106), at(50))        # used before the keep only
    assert may_keep(at(106), at(107))           # really used after it: a new period


def test_a_worker_that_was_down_sends_only_the_highest_crossed_point():
    d = run(110)
    assert (d.action, d.point, d.warned) == ("warn", 6300, [3600, 6300])


def test_off_means_never():
    assert run(10_000, limit_s=0).action == "none"


def test_seconds_for_tests_and_policy_validation():
    d = decide(T0 + timedelta(seconds=95), started_at=T0, last_activity=None, kept_at=None,
               gpu_busy_until=None, gpu_known=False, has_gpus=False, limit_s=90,
               warn_s=[30], warned=[30], period_start=T0)
    assert d.action == "end"
    assert clean_policy(7200, [6300, 3600], 5) == (7200, [3600, 6300], 5.0)
    assert clean_policy(0, [], None) == (0, [], 5.0)
    for bad in ((7200, [7200], 5), (-1, [], 5), (7200, [0], 5), (60, [], 101),
                ("x", [], 5), (40 * 86400, [], 5)):
        with pytest.raises(ServiceError):
            clean_policy(*bad)
