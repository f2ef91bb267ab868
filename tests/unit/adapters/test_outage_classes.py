"""Outages named by what is down (issue #13 item 4), on what Slurm 22.05 really printed.

The sacctmgr captures `database_down_*` were recorded against a second slurmdbd whose
connection to MariaDB was then cut (a TCP relay in front of MariaDB, stopped), so the
shared dev cluster kept running; `dbd_frozen_show` against that slurmdbd SIGSTOPped
(sacctmgr gave up after 45 s). `frozen_controller_submit` is what sbatch printed by itself
after MessageTimeout (10 s) inside a SIGSTOPped slurmctld — that request was still
processed when the controller woke.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.errors import (
    CommandTimeout,
    SlurmRejected,
    SlurmUnreachable,
    classify_failure,
    never_sent,
    outage_of,
)
from tests.unit.adapters.test_accounts import ReplayRunner, load

DATA = Path(__file__).resolve().parents[2] / "data" / "slurm" / "22.05"


def _stderr(name: str) -> str:
    return (DATA / name).read_text()


@pytest.mark.parametrize("name, call", [
    ("database_down_add", lambda a: a.add_user("alice", "tportalrec")),
    ("database_down_show", lambda a: a.accounts(["tportalrec"])),
])
def test_mariadb_down_is_an_outage_of_the_database_not_a_refusal(name, call):
    from adapters.accounts import SlurmAccounts

    acc = SlurmAccounts(runner=ReplayRunner(load("22.05", name)))
    with pytest.raises(SlurmUnreachable) as caught:
        call(acc)
    assert not isinstance(caught.value, SlurmRejected)
    assert caught.value.outage == "database"


def test_slurmdbd_down_or_hung_is_an_outage_of_slurmdbd():
    from adapters.accounts import SlurmAccounts

    for name in ("unreachable_add", "dbd_frozen_show"):
        call = load("22.05", name)
        acc = SlurmAccounts(runner=ReplayRunner(call), operator=call["as_user"])
        with pytest.raises(SlurmUnreachable) as caught:
            acc.add_user("alice", "tportalrec") if "add" in name else acc.accounts(
                ["tportalrec"])
        assert caught.value.outage == "slurmdbd"
    assert outage_of(CommandTimeout("sacctmgr did not finish", ["/usr/bin/sacctmgr"])) \
        == "slurmdbd"


def test_controller_outages_and_whether_the_request_can_still_be_processed():
    refused = classify_failure(["sbatch"], 1, _stderr("unreachable_submit.1.stderr"))
    frozen = classify_failure(["sbatch"], 1, _stderr("frozen_controller_submit.1.stderr"))
    squeue = classify_failure(["squeue"], 1, _stderr("stopped_controller_squeue.1.stderr"))
    for error in (refused, frozen, squeue):
        assert isinstance(error, SlurmUnreachable) and error.outage == "controller"
    assert never_sent(refused)  # "connect failure": nothing left this host
    assert not never_sent(frozen)  # queued in the frozen controller: may still be done
    timeout = CommandTimeout("runuser did not finish within 30s",
                             ["runuser", "-u", "alice", "--", "/usr/bin/sbatch"])
    assert outage_of(timeout) == "controller" and not never_sent(timeout)


def test_a_compute_node_that_does_not_answer_is_named():
    error = classify_failure(["srun"], 1, "srun: error: Task launch for StepId=5.0 failed on "
                                          "node vm: Communication connection failure\n")
    assert isinstance(error, SlurmUnreachable) and error.outage == "node"


def test_a_refusal_is_no_outage():
    error = classify_failure(["sbatch"], 1, "sbatch: error: Invalid account or "
                                            "account/partition combination specified\n")
    assert not isinstance(error, SlurmUnreachable) and outage_of(error) is None
