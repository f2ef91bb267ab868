"""Costs against the real dev cluster: the sacct import and the cost analysis agree with a
hand computation from `sacct` for real finished jobs; prices become the partitions'
TRESBillingWeights.

The jobs run in a throwaway account ("t" + hex, alice as its user), 1 CPU, 100 MB, a few
seconds, and are cancelled/removed at the end. The weights test changes the `cpu`
partition only to weights that bill exactly what slurm.conf's do (for a100 GPUs), and
puts slurm.conf's value back at the end.
"""

from __future__ import annotations

import secrets
import time
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace

import pytest

from adapters.accounts import SlurmAccounts
from adapters.billing_weights import SlurmBillingWeights
from adapters.runner import CommandRunner
from adapters.scheduler import JobSpec, SlurmScheduler
from portal import db
from portal.services import accounting_import, costs, prices, users
from tests.conftest import PASSWORD
from tests.support.slurmaccounts import drop_accounts, require_slurmdbd

pytestmark = pytest.mark.integration
ADMIN = SimpleNamespace(is_admin=True)


@pytest.fixture
def account():
    require_slurmdbd()
    name = "t" + secrets.token_hex(5)
    accounts = SlurmAccounts()
    accounts.add_account(name)
    accounts.add_user("alice", name)
    yield name
    drop_accounts(name, sacct=accounts)


def _sacct(ids: list[str]) -> dict[str, dict]:
    out = CommandRunner().run(["sacct", "-X", "-P", "-n", "-j", ",".join(ids),
                               "--format=JobIDRaw,State,AllocTRES,ElapsedRaw,Partition,End"])
    found = {}
    for line in out.stdout.splitlines():
        jid, state, tres, elapsed, partition, end = line.split("|")
        found[jid] = {"state": state, "elapsed": int(elapsed or 0), "partition": partition,
                      "end": end, "tres": dict(i.split("=", 1) for i in tres.split(",") if i)}
    return found


def _wait_finished(ids: list[str], deadline_s: float = 180) -> dict[str, dict]:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        jobs = _sacct(ids)
        # slurmdbd may show a job COMPLETED a moment before its record is whole
        if len(jobs) == len(ids) and all(j["state"] == "COMPLETED" and j["end"] != "Unknown"
                                         and j["partition"] and "billing" in j["tres"]
                                         for j in jobs.values()):
            return jobs
        time.sleep(0.5)
    pytest.fail(f"jobs did not finish in time: {_sacct(ids)}")


def _mem_gb(text: str) -> Decimal:
    unit = text[-1]
    return Decimal(text[:-1]) * {"K": Decimal(1) / 1024 ** 2, "M": Decimal(1) / 1024,
                                 "G": Decimal(1), "T": Decimal(1024)}[unit]


def _hand_billing(tres: dict, weights: dict) -> int:
    """Slurm's billing by hand: Σ weight × TRES (Mem weight per GB with a G unit)."""
    total = Decimal(0)
    for key, weight in weights.items():
        k = key.lower()
        if k == "cpu":
            total += Decimal(weight) * int(tres.get("cpu", 0))
        elif k == "mem":
            per = Decimal(weight.rstrip("KMGT"))
            total += per * _mem_gb(tres.get("mem", "0M"))  # "0.25G" = 0.25 per GB
        elif k.startswith("gres/"):
            total += Decimal(weight) * int(tres.get(k, tres.get(key, 0)))
    return int(total)


def test_cost_totals_equal_hand_computation_from_sacct(app, account):
    sched = SlurmScheduler(runner=CommandRunner(timeout=30))
    script = "#!/bin/sh\nsleep 3\n"
    specs = [dict(partition="cpu"), dict(partition="cpu"),
             dict(partition="gpu", gres="gpu:a100:1")]
    ids = []
    try:
        for extra in specs:
            ids.append(sched.submit(JobSpec(script=script, job_name=f"it-{account}",
                                            account=account, cpus=1, mem=100, time=2,
                                            comment="cost-it", **extra), as_user="alice"))
        jobs = _wait_finished(ids)
    finally:
        for jid in ids:
            sched.delete(jid, as_user="alice")
    weights = SlurmBillingWeights().read()
    expected_units = 0
    for job in jobs.values():
        billing = int(job["tres"]["billing"])
        assert billing == _hand_billing(job["tres"], weights[job["partition"]]), job
        assert job["elapsed"] >= 3
        expected_units += billing * job["elapsed"]
    assert int(jobs[ids[2]]["tres"]["gres/gpu"]) == 1
    with app.test_request_context("/"):
        users.create_user("alice", password=PASSWORD)
        accounting_import.import_new()
        assert accounting_import.import_new() == 0  # nothing new the second time
        today = db.utcnow().date().isoformat()
        rep = costs.report(ADMIN, costs.parse_query({"from": today, "to": today,
                                                     "project": account, "by": "gpu_model"}))
        expected = (Decimal(expected_units) / 3600 / 100).quantize(Decimal("0.0001"),
                                                                   ROUND_HALF_UP)
        assert rep.jobs == 3 and rep.total == expected, (rep.as_dict(), jobs)
        assert set(rep.by_key) == {"a100", ""}
        from portal.services import wallet

        assert sum(wallet.cost_of(int(j["tres"]["billing"]), j["elapsed"])
                   for j in jobs.values()) - rep.total < Decimal("0.0003")


@pytest.mark.xdist_group("billing_weights")
def test_prices_become_partition_weights(app):
    adapter = SlurmBillingWeights()
    before = adapter.read()
    app.config.update(BILLING_WEIGHTS_APPLY=True, BILLING_PARTITIONS="cpu")
    try:
        with app.test_request_context("/"):
            admin, _ = users.create_user("boss", unix_user="nobody", password=PASSWORD,
                                         is_admin=True)
            prices.set_price(admin, "cpu", "0.01")
            prices.set_price(admin, "gpu:a100", "0.10")
            now = adapter.read()
            assert now["cpu"] == {**{k: v for k, v in before["cpu"].items()
                                     if not k.lower().startswith("gres/gpu")
                                     and k.lower() != "cpu"},
                                  "CPU": "1", "GRES/gpu:a100": "10"}
            assert now["gpu"] == before["gpu"]  # not in BILLING_PARTITIONS
            assert prices.sync_weights(force=True) == []  # in line: nothing to do
    finally:
        adapter.set("cpu", before["cpu"])
    assert adapter.read()["cpu"] == before["cpu"]
