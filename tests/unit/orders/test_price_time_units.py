"""Issue #16 rules without a cluster: the price per hour from billing weights (the Slurm
arithmetic the browser tests check against the real cluster), the time-limit field's
notation, orders in words and the extension's resulting date."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from portal import db
from portal.models import Price
from portal.services import ServiceError, orderdisplay, pricing
from portal.services.jobspec import format_time_limit, parse_time_limit, time_limit_words
from portal.services.project_expiry import resulting_end_date

DEV = "CPU=1.0,Mem=0.25G,GRES/gpu=10.0"


def _view(weights=DEV, default_time=240):
    return {"partitions": [{"name": "gpu", "default": True, "nodes": ["vm"],
                            "billing_weights": weights, "default_time": default_time},
                           {"name": "cpu", "default": False, "nodes": ["vm"],
                            "billing_weights": "CPU=2"}],
            "nodes": [{"name": "vm", "gpus": {"a100": [4, 0]}}]}


@pytest.mark.parametrize(("cpus", "mem_gb", "gpus", "units", "hourly"), [
    (2, 3, 1, "12.75", "0.12"),  # measured: scontrol showed billing=12 for this job
    (2, 4, 1, "13", "0.13"),
    (1, 1, 0, "1.25", "0.01"),
])
def test_price_is_slurms_billing_truncated_over_the_scale(ctx, cpus, mem_gb, gpus, units,
                                                          hourly):
    rate = pricing.rate("a100" if gpus else None, gpus, cpus, mem_gb, view=_view())
    assert rate.billing == Decimal(units) and rate.hourly == Decimal(hourly)


def test_weights_typed_gpus_partitions_and_prices(ctx):
    typed = _view("CPU=1,GRES/gpu:a100=20,GRES/gpu:h100=50")
    assert pricing.rate("a100", 2, 1, 8, view=typed).billing == 41
    assert pricing.rate(None, 0, 3, 8, partition="cpu", view=_view()).billing == 6
    assert pricing.rate(None, 0, 3, 8, view=_view("")).billing == 3  # no weights: CPUs
    unknown = pricing.rate("a100", 1, 1, 1, view={"partitions": [{"name": "gpu"}]})
    assert not unknown.known and unknown.hourly == 0
    db.session.add_all([Price(resource="cpu", hourly=Decimal("0.5"),
                              effective_from=db.utcnow() - timedelta(days=1)),
                        Price(resource="gpu:a100", hourly=Decimal("10"),
                              effective_from=db.utcnow() - timedelta(days=1))])
    db.session.commit()
    assert pricing.rate("a100", 3, 1, 4, view={}).hourly == Decimal("30.5")
    # Under tests prices are not applied to Slurm: Slurm's own weights bill, and show.
    assert pricing.rate("a100", 1, 2, 4, view=_view()).hourly == Decimal("0.13")


@pytest.mark.parametrize(("text", "minutes"), [
    ("30", 30), ("1:30", 2), ("2:00:00", 120), ("1-00:00:00", 1440), ("1-2", 1560),
    (45, 45), ("", None), (None, None),
])
def test_time_limit_takes_sbatch_notation(ctx, text, minutes):
    assert parse_time_limit({"time_limit": text}) == minutes


@pytest.mark.parametrize("text", ["0", "two hours", "-5", "366-00:00:00", "1:2:3:4",
                                  "UNLIMITED", True, "１０"])
def test_bad_time_limits_are_refused_in_words(ctx, text):
    with pytest.raises(ServiceError) as caught:
        parse_time_limit({"time_limit": text})
    assert caught.value.code == "invalid_time_limit" and "sbatch --time" in str(
        caught.value.message)


def test_time_limit_over_maxwall_names_it_and_formats(ctx):
    with pytest.raises(ServiceError) as caught:
        parse_time_limit({"time_limit": "3:00:00"}, {"max_minutes": 120})
    assert caught.value.code == "time_over_limit" and "at most 2 hours" in str(
        caught.value.message)
    assert format_time_limit(1) == "0:01:00" and format_time_limit(1590) == "1-02:30:00"
    assert time_limit_words(90) == "1 h 30 min" and time_limit_words(1440) == "1 d"


def test_orders_in_words(ctx):
    rows = dict(orderdisplay.spec_items({"gpu_model": "a100", "gpu_count": 2, "cpus": 8,
                                         "mem_gb": 64, "time_limit_min": 90,
                                         "custom_key": "x"}))
    assert rows == {"GPUs": "2 × a100", "CPU cores": "8", "Memory": "64 GB",
                    "Time limit": "1 h 30 min (1:30:00)", "custom key": "x"}
    details = dict(orderdisplay.detail_items({"approval": "pending", "unit_price": "0.4200",
                                              "differences": {"gpus": [2, 4]}}))
    assert details == {"Approval": "waiting for a project manager",
                       "Unit price (per hour)": "0.42",
                       "Differences": "GPUs: approved 2, found 4"}


def test_extension_counts_from_the_end_date_or_today():
    class P:
        end_date = date(2030, 1, 31)

    assert resulting_end_date(P, 30, on=date(2030, 1, 10)) == date(2030, 3, 2)
    assert resulting_end_date(P, 30, on=date(2030, 1, 31)) == date(2030, 3, 2)
    assert resulting_end_date(P, 30, on=date(2030, 2, 10)) == date(2030, 3, 12)
    P.end_date = None
    assert resulting_end_date(P, 30) is None
