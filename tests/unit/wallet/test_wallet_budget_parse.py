"""Parsing `scontrol show assoc_mgr flags=qos` (Slurm 22.05 output, captured on the dev
cluster) and the sacctmgr arguments the budget adapter sends."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.budget import SlurmBudget, parse_assoc_mgr_qos
from adapters.errors import SlurmRejected
from adapters.runner import CommandResult

SAMPLE = """Current Association Manager state

QOS Records

QOS=normal(1)
    UsageRaw=0.000000
    GrpJobs=N(0) GrpJobsAccrue=N(0) GrpSubmitJobs=N(0) GrpWall=N(0.00)
    GrpTRES=cpu=N(0),mem=N(0),energy=N(0),node=N(0),billing=N(0),fs/disk=N(0)
    GrpTRESMins=cpu=N(0),mem=N(0),energy=N(0),node=N(0),billing=N(0),fs/disk=N(0)
    MaxWallPJ=
QOS=p_t8f8bc328(57)
    UsageRaw=22.441406
    GrpJobs=N(0) GrpJobsAccrue=N(0) GrpSubmitJobs=N(0) GrpWall=N(0.37)
    GrpTRES=cpu=N(0),mem=N(0),energy=N(0),node=N(0),billing=N(0),fs/disk=N(0),vmem=N(0),pages=N(0),gres/gpu=N(0),gres/gpu:a100=N(0)
    GrpTRESMins=cpu=N(0),mem=N(0),energy=N(0),node=N(0),billing=3(12),fs/disk=N(0),vmem=N(0),pages=N(0),gres/gpu=N(0),gres/gpu:a100=N(0)
    GrpTRESRunMins=cpu=N(0),mem=N(0),energy=N(0),node=N(0),billing=N(0),fs/disk=N(0)
    Account Limits
        No Accounts
    User Limits
        No Users
"""


def test_parses_limit_and_usage_of_every_qos():
    found = parse_assoc_mgr_qos(SAMPLE)
    assert found["normal"].limit_minutes is None and found["normal"].used_minutes == 0
    p = found["p_t8f8bc328"]
    assert (p.limit_minutes, p.used_minutes, p.usage_raw) == (3, 12, 22.441406)


def test_unknown_qos_and_strange_output():
    assert parse_assoc_mgr_qos("Current Association Manager state\n\nNo QOS currently "
                               "cached in Slurm.\n") == {}
    with pytest.raises(ValueError):
        parse_assoc_mgr_qos("QOS=x(1)\n    GrpTRESMins=cpu=N(0)\n")
    with pytest.raises(ValueError):
        parse_assoc_mgr_qos("QOS=x(1)\n    UsageRaw=1.0\nQOS=y(2)\n")


@given(st.text(max_size=300))
def test_parser_raises_only_value_error(text):
    try:
        parse_assoc_mgr_qos(text)
    except ValueError:
        pass


@given(st.lists(st.tuples(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
                          st.one_of(st.none(), st.integers(0, 10**12)),
                          st.integers(0, 10**12)), max_size=5, unique_by=lambda t: t[0]))
def test_round_trip(qos):
    text = "".join(
        f"QOS={name}({i})\n    UsageRaw={used * 60}.000000\n    GrpTRESMins=cpu=N(0),"
        f"billing={'N' if limit is None else limit}({used}),mem=N(0)\n"
        for i, (name, limit, used) in enumerate(qos))
    found = parse_assoc_mgr_qos(text)
    assert {n: (b.limit_minutes, b.used_minutes) for n, b in found.items()} == {
        n: (limit, used) for n, limit, used in qos}


class Recorder:
    def __init__(self, result):
        self.result, self.argv = result, None

    def run(self, argv, as_user=None, check=False):
        self.argv = argv
        return CommandResult(argv, *self.result)


def test_set_limit_argv_and_refusals():
    runner = Recorder((0, "", ""))
    assert SlurmBudget(runner, bin_dir="/usr/bin").set_limit("p_x", 42)
    assert runner.argv == ["/usr/bin/sacctmgr", "-i", "--parsable2", "--noheader", "modify",
                           "qos", "where", "Name=p_x", "set", "GrpTRESMins=billing=42",
                           "Flags+=NoDecay"]
    assert not SlurmBudget(Recorder((1, " Nothing modified\n", ""))).set_limit("p_x", None)
    for bad in (-1, "7", True, 1.5):
        with pytest.raises(ValueError):
            SlurmBudget(Recorder((0, "", ""))).set_limit("p_x", bad)
    with pytest.raises(ValueError):
        SlurmBudget(Recorder((0, "", ""))).set_limit("p_x,normal", 1)
    with pytest.raises(SlurmRejected):
        SlurmBudget(Recorder((1, "", "sacctmgr: error: bad"))).set_limit("p_x", 1)
    with pytest.raises(SlurmRejected):
        SlurmBudget(Recorder((0, "QOS=x(1)\n", ""))).read_all()
