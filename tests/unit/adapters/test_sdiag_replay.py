"""slurmctld's RPC counters from real `sdiag` output (tests/data/slurm/*/sdiag*.txt,
recorded by tests/data/slurm/record_sdiag.py around one squeue), as bench/page_load.py
reads them to count the controller RPCs a page view costs."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.errors import AdapterError
from adapters.runner import CommandResult, CommandRunner
from adapters.sdiag import parse_rpc_counts, read_rpc_counts

DATA = Path(__file__).resolve().parents[2] / "data" / "slurm"
VERSIONS = sorted(p.parent.name for p in DATA.glob("*/sdiag.txt"))


def _reading(version: str, name: str = "sdiag.txt") -> str:
    return (DATA / version / name).read_text()


def test_both_slurm_versions_are_recorded():
    assert {"22.05", "24.11"} <= set(VERSIONS)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_reading_counts_every_rpc_once(version):
    counts = parse_rpc_counts(_reading(version))
    # Each RPC is counted once per message type and once per user: the tables agree.
    assert counts.total == sum(counts.by_user.values()) > 0
    assert counts.by_type["REQUEST_JOB_INFO"] > 0 and "root" in counts.by_user
    # Other sections' numbers (jobs submitted, schedule cycles) are not taken as RPCs.
    assert all(name.isupper() for name in counts.by_type)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_difference_shows_one_squeue_between_two_readings(version):
    before = parse_rpc_counts(_reading(version))
    spent = parse_rpc_counts(_reading(version, "sdiag_after.txt")).since(before)
    assert spent.by_type.get("REQUEST_JOB_INFO", 0) >= 1  # the squeue
    assert spent.by_type.get("REQUEST_STATS_INFO", 0) >= 1  # sdiag asking counts too
    assert spent.by_user.get("root", 0) >= 2
    assert 0 not in spent.by_type.values()
    assert parse_rpc_counts(_reading(version)).since(before).total == 0


def test_output_without_rpc_table_is_refused():
    with pytest.raises(ValueError):
        parse_rpc_counts("sdiag: error: Unable to contact slurm controller\n")


class _Runner(CommandRunner):
    def __init__(self, stdout: str):
        super().__init__(run_as_prefix=[], timeout=5)
        self.stdout, self.calls = stdout, []

    def run(self, argv, **kw):
        self.calls.append(list(argv))
        return CommandResult(list(argv), 0, self.stdout, "")


def test_read_runs_sdiag_from_the_clusters_bin_dir():
    runner = _Runner(_reading(VERSIONS[0]))
    counts = read_rpc_counts(runner, bin_dir="/opt/slurm/bin")
    assert runner.calls == [["/opt/slurm/bin/sdiag"]] and counts.total > 0
    with pytest.raises(AdapterError):
        read_rpc_counts(_Runner("not sdiag\n"))
