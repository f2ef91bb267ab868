"""The accounts adapter on recorded real sacctmgr output (tests/data/slurm/*/sacctmgr_*.txt).

A replay runner checks that the adapter asks for exactly the recorded command line and
hands back exactly what sacctmgr printed, so argv building, the idempotency rules
("Nothing new added" is success) and the error mapping run on real output.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from adapters.accounts import SlurmAccounts
from adapters.errors import SlurmRejected, SlurmUnreachable
from adapters.runner import CommandRunner

DATA = Path(__file__).resolve().parents[2] / "data" / "slurm"
VERSIONS = sorted(p.name for p in DATA.iterdir() if list(p.glob("sacctmgr_*.txt")))
ACCOUNT, QOS = "tportalrec", "p_tportalrec"


def load(version: str, name: str) -> dict:
    path = DATA / version / f"sacctmgr_{name}.txt"
    if not path.exists():
        pytest.skip(f"{version} has no recording of {name}")
    head, _, rest = path.read_text().partition("\n----- stdout -----\n")
    stdout, _, stderr = rest.partition("----- stderr -----\n")
    return {**json.loads(head), "stdout": stdout, "stderr": stderr}


class ReplayRunner(CommandRunner):
    """Answers one recorded call; fails the test on any other command line."""

    def __init__(self, call: dict):
        super().__init__(run_as_prefix=["runuser", "-u", "{user}", "--"])
        self.call, self.used = call, False

    def _execute(self, argv, data, limit, cwd):
        assert not self.used, f"unexpected second command: {argv}"
        self.used = True
        assert _normal(argv) == _normal(self.call["argv"])
        return self.call["returncode"], self.call["stdout"].encode(), self.call["stderr"].encode()


def _normal(argv):
    return [os.path.basename(a) if a.endswith("/sacctmgr") else a for a in argv]


@pytest.fixture(params=VERSIONS)
def replay(request):
    def make(name: str) -> SlurmAccounts:
        call = load(request.param, name)
        return SlurmAccounts(runner=ReplayRunner(call), operator=call["as_user"])

    return make


LIMITS = {"GrpTRES": {"gres/gpu": 2, "cpu": 4, "mem": 8192}, "MaxTRESPerUser": {"gres/gpu": 1},
          "MaxWall": 120}
SETTINGS = {"Description": "Recorded project", "Organization": "portal", "QOS": [QOS],
            "DefaultQOS": QOS}


@pytest.mark.parametrize("name, call, changed", [
    ("add_qos", lambda a: a.add_qos(QOS, LIMITS), True),
    ("add_qos_again", lambda a: a.add_qos(QOS, LIMITS), False),
    ("add_account", lambda a: a.add_account(ACCOUNT, SETTINGS), True),
    ("add_account_again", lambda a: a.add_account(ACCOUNT, SETTINGS), False),
    ("add_user", lambda a: a.add_user("alice", ACCOUNT), True),
    ("add_user_again", lambda a: a.add_user("alice", ACCOUNT), False),
    ("add_coordinator", lambda a: a.add_coordinator("alice", ACCOUNT), True),
    ("block", lambda a: a.modify_account(ACCOUNT, {"GrpJobs": 0, "GrpSubmitJobs": 0}), True),
    ("unblock", lambda a: a.modify_account(ACCOUNT, {"GrpJobs": None, "GrpSubmitJobs": None}),
     True),
    ("modify_qos", lambda a: a.modify_qos(QOS, {"GrpTRES": {"cpu": None, "mem": None}}), True),
    ("modify_qos_unknown", lambda a: a.modify_qos("tportalnoqos", {"Priority": 1}), False),
    ("remove_coordinator", lambda a: a.remove_coordinator("alice", ACCOUNT), True),
    ("remove_user", lambda a: a.remove_user("alice", ACCOUNT), True),
    ("remove_user_again", lambda a: a.remove_user("alice", ACCOUNT), False),
    ("remove_qos_again", lambda a: a.remove_qos(QOS), False),
])
def test_changes_are_idempotent(replay, name, call, changed):
    """sacctmgr -i exits 1 with "Nothing new added"/"Nothing modified"/"Nothing deleted"
    when the state is already there: the adapter reports "unchanged", not a failure."""
    assert call(replay(name)) is changed


@pytest.mark.parametrize("name, call, words", [
    ("remove_qos_in_use", lambda a: a.remove_qos(QOS), "Default QOS"),
    # 22.05: "This account 'tportalnone' doesn't exist."; 24.11: "No account tportalnone on
    # cluster devcluster2411, skipping."
    ("add_user_unknown_account", lambda a: a.add_user("alice", "tportalnone"),
     "tportalnone"),
    ("remove_user_active", lambda a: a.remove_user("alice", ACCOUNT), "Job(s) active"),
    ("add_user_denied", lambda a: a.add_user("bob", ACCOUNT), "permission denied"),
])
def test_refusals_carry_sacctmgrs_words(replay, name, call, words):
    with pytest.raises(SlurmRejected) as caught:
        call(replay(name))
    assert words in caught.value.message


def test_a_coordinator_call_runs_as_that_user_never_as_root_by_default(replay):
    acc = replay("add_user_denied")
    assert acc.operator == "carol"
    with pytest.raises(SlurmRejected):
        acc.add_user("bob", ACCOUNT)
    assert SlurmAccounts().operator is None  # the portal's own identity: the Slurm operator


@pytest.mark.parametrize("name, call", [
    ("unreachable_show", lambda a: a.accounts([ACCOUNT])),
    ("unreachable_add", lambda a: a.add_user("alice", ACCOUNT)),
])
def test_slurmdbd_down_is_unreachable_not_a_refusal(replay, name, call):
    with pytest.raises(SlurmUnreachable, match="Connection refused"):
        call(replay(name))


def test_reads_parse_what_sacctmgr_showed(replay):
    own, alice = replay("show_assoc").associations(ACCOUNT)
    assert (own.user, own.parent, own.grp_jobs, own.grp_submit) == (None, "root", 0, 0)
    assert own.qos == (QOS,) and own.default_qos == QOS
    assert alice.user == "alice" and alice.grp_jobs is None
    [account] = replay("show_account").accounts([ACCOUNT])
    assert account.coordinators == ("alice",) and account.organization == "portal"
    assert account.description == "recorded project"  # sacctmgr lower-cases it
    [qos] = replay("show_qos").qos([QOS])
    assert qos.grp_tres == {"cpu": 4, "gres/gpu": 2, "mem": 8192}
    assert qos.max_tres_per_user == {"gres/gpu": 1} and qos.max_wall == 120


def test_dry_run_plans_changes_and_runs_nothing():
    class NoRun(CommandRunner):
        def _execute(self, *args):
            raise AssertionError("a dry run must not start sacctmgr")

    acc = SlurmAccounts(runner=NoRun(), bin_dir="/opt/slurm/bin", noop=True)
    assert acc.add_user("alice", "tdemo") is True
    assert acc.planned == [["/opt/slurm/bin/sacctmgr", "-i", "--parsable2", "--noheader", "add",
                            "user", "Name=alice", "Account=tdemo"]]


@pytest.mark.parametrize("call", [
    lambda a: a.add_account("Bad Name!"),
    lambda a: a.add_account("UPPER"),
    lambda a: a.add_account("a,b"),
    lambda a: a.add_account("x=y"),
    lambda a: a.add_user("-rf", "tdemo"),
    lambda a: a.add_qos("tq", {"GrpTRES": {"gres/gpu": -2}}),
    lambda a: a.add_qos("tq", {"MaxWall": "forever"}),
    lambda a: a.modify_account("tdemo", {"Shell": "/bin/sh"}),
])
def test_names_and_values_sacctmgr_would_misread_never_reach_it(call):
    acc = SlurmAccounts(runner=ReplayRunner({"argv": []}), noop=False)
    with pytest.raises(ValueError):
        call(acc)
    assert not acc.runner.used
