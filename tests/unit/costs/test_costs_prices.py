"""Prices: validation, history, audit, and the Slurm billing weights derived from them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from adapters import billing_weights as bw
from portal import db
from portal.models import AuditEvent, Price
from portal.services import Forbidden, ServiceError, prices


@pytest.mark.parametrize("bad", ["", "abc", "-1", "-0.01", "1e400", "NaN", "inf", "0.00001",
                                 "2000000", "１", None, True, "1,5"])
def test_bad_prices_are_refused(app, bad):
    with app.test_request_context("/"):
        with pytest.raises(ServiceError) as err:
            prices.parse_price(bad)
        assert err.value.code == "invalid_price"


@pytest.mark.parametrize("good,value", [("0", "0.0000"), ("0.1", "0.1000"), (2, "2.0000"),
                                        (" 12.3456 ", "12.3456")])
def test_good_prices(app, good, value):
    with app.test_request_context("/"):
        assert str(prices.parse_price(good)) == value


@pytest.mark.parametrize("bad", ["", "mem", "gpu:", "gpu:A 100", "gpu:a100:2", "gpu:" + "x" * 40])
def test_bad_resources(app, bad):
    with app.test_request_context("/"):
        with pytest.raises(ServiceError) as err:
            prices.parse_resource(bad)
        assert err.value.code == "invalid_resource"


def test_weight_of_scale(app):
    with app.test_request_context("/"):
        assert prices.weight_of(Decimal("0.10")) == "10"
        assert prices.weight_of(Decimal("0.0125")) == "1.25"
        assert prices.weight_of(Decimal("0")) == "0"
        app.config["BILLING_UNITS_PER_CURRENCY"] = 1000
        assert prices.weight_of(Decimal("0.10")) == "100"


def test_set_price_keeps_history_and_audits(app, people, weights):
    with app.test_request_context("/"):
        ada = people["ada"]
        prices.set_price(ada, "cpu", "0.01")
        prices.set_price(ada, "GPU:A100", "0.10")
        prices.set_price(ada, "gpu:a100", "0.20")
        rows = db.session.scalars(select(Price).order_by(Price.id)).all()
        assert [(r.resource, str(r.hourly)) for r in rows] == [
            ("cpu", "0.0100"), ("gpu:a100", "0.1000"), ("gpu:a100", "0.2000")]
        assert prices.prices_at()["gpu:a100"] == Decimal("0.2")
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "price.set")
                                    ).all()
        assert len(events) == 3 and events[-1].details["previous"] == "0.1000"
        assert events[-1].actor_name == "ada"
        view = {p.resource: p for p in prices.current()}
        assert view["gpu:a100"].hourly == Decimal("0.2") and view["gpu:a100"].weight == "20"
        assert [p.resource for p in prices.history()][:1] == ["gpu:a100"]
        # TESTING: nothing applied to Slurm unless asked
        assert weights.sets == []


def test_non_admin_and_bad_input_change_nothing(app, people):
    with app.test_request_context("/"):
        with pytest.raises(Forbidden):
            prices.set_price(people["max"], "cpu", "1")
        with pytest.raises(ServiceError):
            prices.set_price(people["ada"], "cpu", "-1")
        assert db.session.scalars(select(Price)).all() == []


def test_desired_weights_merge(app):
    from portal.services.prices import desired_weights

    with app.test_request_context("/"):
        have = {"CPU": "1.0", "Mem": "0.25G", "GRES/gpu": "10.0"}
        assert desired_weights(have, {}) == have
        with_cpu = desired_weights(have, {"cpu": Decimal("0.02")})
        assert with_cpu == {"Mem": "0.25G", "GRES/gpu": "10.0", "CPU": "2"}


def test_desired_weights_gpu_models_replace_untyped(app):
    from portal.services.prices import desired_weights

    with app.test_request_context("/"):
        have = {"cpu": "1.0", "Mem": "0.25G", "GRES/gpu": "10.0", "GRES/gpu:v100": "3"}
        got = desired_weights(have, {"cpu": Decimal("0.01"), "gpu:a100": Decimal("0.10"),
                                     "gpu:h100": Decimal("0.3")})
        assert got == {"Mem": "0.25G", "CPU": "1", "GRES/gpu:a100": "10", "GRES/gpu:h100": "30"}
        # billing-equivalent to the dev cluster's slurm.conf for a100 jobs
        assert bw.same_weights(got, {"CPU": "1.0", "Mem": "0.25G", "GRES/gpu:a100": "10.0",
                                     "GRES/gpu:h100": "30"})


def test_sync_applies_only_what_differs(app, people, weights):
    app.config["BILLING_WEIGHTS_APPLY"] = True
    with app.test_request_context("/"):
        assert prices.sync_weights(force=True) == []  # no prices: Slurm's weights stay
        prices.set_price(people["ada"], "cpu", "0.01")  # CPU=1 is what Slurm has
        assert weights.sets == []
        prices.set_price(people["ada"], "gpu:a100", "0.10")
        assert sorted(p for p, _ in weights.sets) == ["cpu", "gpu"]
        assert weights.parts["gpu"] == {"CPU": "1", "Mem": "0.25G", "GRES/gpu:a100": "10"}
        weights.sets.clear()
        assert prices.sync_weights(force=True) == []  # in line now
        weights.parts["gpu"] = {"CPU": "1.0", "Mem": "0.25G", "GRES/gpu": "10.0"}  # restart
        assert prices.sync_weights() == []  # checked at most every N seconds
        assert prices.sync_weights(force=True) == ["gpu"]
        assert db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "price.weights_applied")).all()


def test_worker_step(app, people, weights):
    with app.test_request_context("/"):
        prices.set_price(people["ada"], "cpu", "0.05")
        assert prices.worker_step() == {}  # TESTING: off
        app.config["BILLING_WEIGHTS_APPLY"] = "true"
        assert sorted(prices.worker_step()["billing_weights_applied"]) == ["cpu", "gpu"]
        weights.down = True
        prices._last_check["at"] = 0.0
        assert "billing_weights_error" in prices.worker_step()


def test_partitions_config(app, people, weights):
    app.config.update(BILLING_WEIGHTS_APPLY=True, BILLING_PARTITIONS="gpu")
    with app.test_request_context("/"):
        prices.set_price(people["ada"], "cpu", "0.05")
        assert [p for p, _ in weights.sets] == ["gpu"]


@pytest.mark.parametrize("text,parsed", [
    ("CPU=1.0,Mem=0.25G,GRES/gpu=10.0", {"CPU": "1.0", "Mem": "0.25G", "GRES/gpu": "10.0"}),
    ("", {}), ("(null)", {}), ("GRES/gpu:a100=10", {"GRES/gpu:a100": "10"})])
def test_parse_weights(text, parsed):
    assert bw.parse_weights(text) == parsed
    assert bw.parse_weights(bw.format_weights(parsed)) == parsed


@pytest.mark.parametrize("bad", ["CPU=-1", "CPU", "CPU=x", "CPU=1,cpu=2", "C PU=1", "=1"])
def test_bad_weights(bad):
    with pytest.raises(ValueError):
        bw.parse_weights(bad)


def test_weights_adapter_argv():
    from adapters.runner import CommandResult, CommandRunner

    class Runner(CommandRunner):
        def __init__(self):
            super().__init__()
            self.argvs = []

        def run(self, argv, **kw):
            self.argvs.append(argv)
            out = ("PartitionName=gpu Default=YES TRESBillingWeights=CPU=1.0,Mem=0.25G\n"
                   "PartitionName=cpu Default=NO\n")
            return CommandResult(argv, 0, out, "")

    runner = Runner()
    adapter = bw.SlurmBillingWeights(runner, bin_dir="/usr/bin")
    assert adapter.read() == {"gpu": {"CPU": "1.0", "Mem": "0.25G"}, "cpu": {}}
    adapter.set("gpu", {"CPU": "2", "GRES/gpu:a100": "10"})
    assert runner.argvs[-1] == ["/usr/bin/scontrol", "update", "PartitionName=gpu",
                                "TRESBillingWeights=CPU=2,GRES/gpu:a100=10"]
    with pytest.raises(ValueError):
        adapter.set("gpu; rm", {"CPU": "1"})
    with pytest.raises(ValueError):
        adapter.set("gpu", {"CPU": "-1"})


def test_weights_parsers_never_crash():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet=st.sampled_from(list("CPUMemGRES/gpu:a10=.,-KMGT x")), max_size=60))
    def check(text):
        try:
            parsed = bw.parse_weights(text)
        except ValueError:
            return
        assert bw.same_weights(parsed, bw.parse_weights(bw.format_weights(parsed)))

    check()


def test_validators_take_any_input(app):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from portal.services import costs

    text = st.one_of(st.none(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30),
                     st.text(alphabet="0123456789.-+eE ,:gpucGPU", max_size=20))

    @settings(max_examples=300, deadline=None)
    @given(text, text, st.dictionaries(st.sampled_from(["from", "to", "period", "by",
                                                        "project", "service"]), text))
    def check(price, resource, query):
        try:
            value = prices.parse_price(price)
            assert value >= 0 and value == value.quantize(Decimal("0.0001"))
        except ServiceError as exc:
            assert exc.code == "invalid_price"
        try:
            assert prices.parse_resource(resource).split(":")[0] in ("cpu", "gpu")
        except ServiceError as exc:
            assert exc.code == "invalid_resource"
        try:
            parsed = costs.parse_query(query)
            assert parsed.start <= parsed.end
        except ServiceError as exc:
            assert exc.status == 400

    with app.test_request_context("/"):
        check()
