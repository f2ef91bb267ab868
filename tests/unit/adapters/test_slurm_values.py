"""Slurm value notations, error mapping and state normalisation: explicit cases."""

from __future__ import annotations

from datetime import datetime

import pytest

from adapters.errors import (
    CommandFailed,
    SlurmUnreachable,
    classify_failure,
    clean_message,
    looks_not_found,
)
from adapters.scheduler import JobState
from adapters.scheduler.parsers import STATE_MAP, node_available, normalize_state
from adapters.scheduler.values import (
    Gres,
    expand_nodelist,
    format_duration,
    gres_from_tres,
    opt,
    parse_datetime,
    parse_duration,
    parse_exit_code,
    parse_gres,
    parse_kv,
    parse_minutes,
    parse_tres,
)

# Slurm's own state names (squeue man page, JOB STATE CODES) → ours.
STATE_TABLE = [
    ("PENDING", None, JobState.QUEUED),
    ("PENDING", "BeginTime", JobState.QUEUED),
    ("PENDING", "Dependency", JobState.QUEUED),
    ("PENDING", "QOSGrpGRES", JobState.QUEUED),
    ("PENDING", "JobHeldUser", JobState.QUEUED_HELD),
    ("PENDING", "JobHeldAdmin", JobState.QUEUED_HELD),
    ("PD", "JobHeldUser", JobState.QUEUED_HELD),
    ("CONFIGURING", None, JobState.QUEUED),
    ("REQUEUED", None, JobState.QUEUED),
    ("REQUEUE_FED", None, JobState.QUEUED),
    ("REQUEUE_HOLD", None, JobState.QUEUED_HELD),
    ("RESV_DEL_HOLD", None, JobState.QUEUED_HELD),
    ("RUNNING", None, JobState.RUNNING),
    ("R", None, JobState.RUNNING),
    ("RESIZING", None, JobState.RUNNING),
    ("SIGNALING", None, JobState.RUNNING),
    ("COMPLETING", None, JobState.COMPLETING),
    ("STAGE_OUT", None, JobState.COMPLETING),
    ("COMPLETED", None, JobState.COMPLETED),
    ("CD", None, JobState.COMPLETED),
    ("FAILED", "NonZeroExitCode", JobState.FAILED),
    ("OUT_OF_MEMORY", None, JobState.FAILED),
    ("SPECIAL_EXIT", None, JobState.FAILED),
    ("CANCELLED", None, JobState.CANCELLED),
    ("CANCELLED by 2001", None, JobState.CANCELLED),
    ("REVOKED", None, JobState.CANCELLED),
    ("TIMEOUT", "TimeLimit", JobState.TIMEOUT),
    ("DEADLINE", None, JobState.TIMEOUT),
    ("NODE_FAIL", None, JobState.NODE_FAIL),
    ("BOOT_FAIL", None, JobState.NODE_FAIL),
    ("PREEMPTED", None, JobState.PREEMPTED),
    ("SUSPENDED", None, JobState.SUSPENDED),
    ("STOPPED", None, JobState.SUSPENDED),
    ("running", None, JobState.RUNNING),
    ("SOMETHING_NEW", None, JobState.UNKNOWN),
    ("", None, JobState.UNKNOWN),
    (None, None, JobState.UNKNOWN),
]


@pytest.mark.parametrize("slurm, reason, ours", STATE_TABLE)
def test_state_normalisation(slurm, reason, ours):
    assert normalize_state(slurm, reason) is ours


def test_every_mapped_state_is_terminal_or_active():
    for state in set(STATE_MAP.values()):
        assert state.is_terminal != state.is_active
    assert not JobState.UNKNOWN.is_terminal and not JobState.UNKNOWN.is_active
    assert JobState.QUEUED_HELD.is_active and JobState.PREEMPTED.is_terminal
    assert JobState("queued_held") is JobState.QUEUED_HELD


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("5", 300),
        ("5:30", 330),
        ("1:00:00", 3600),
        ("10:00", 600),
        ("00:10:00", 600),
        ("1-0", 86400),
        ("1-02", 93600),
        ("1-02:03", 93780),
        ("1-02:03:04", 93784),
        ("UNLIMITED", None),
        ("INFINITE", None),
        ("Partition_Limit", None),
        ("NOT_SET", None),
        ("N/A", None),
        ("", None),
        ("NONE", None),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["abc", "1:2:3:4", "-5", "1-", "1.5", "５"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_minutes_round_up_and_durations_format_like_slurm():
    assert parse_minutes("0:30") == 1 and parse_minutes("10:00") == 10
    assert [format_duration(s) for s in (5, 600, 3600, 93784)] == [
        "0:05",
        "10:00",
        "1:00:00",
        "1-02:03:04",
    ]


def test_datetimes():
    value = parse_datetime("2026-11-29T02:07:17")
    assert value.tzinfo is not None
    assert value.replace(tzinfo=None) == datetime(2026, 11, 29, 2, 7, 17)
    for empty in ("N/A", "Unknown", "None", "NONE", "(null)", "", None):
        assert parse_datetime(empty) is None
    with pytest.raises(ValueError):
        parse_datetime("yesterday")


@pytest.mark.parametrize(
    "text, names",
    [
        ("vm", ["vm"]),
        ("gpu[01-03,05]", ["gpu01", "gpu02", "gpu03", "gpu05"]),
        ("n1,n2", ["n1", "n2"]),
        ("a[1-2],b[08-10]", ["a1", "a2", "b08", "b09", "b10"]),
        ("r[1-2]-n[1-2]", ["r1-n1", "r1-n2", "r2-n1", "r2-n2"]),
        ("None assigned", []),
        ("", []),
        ("(null)", []),
    ],
)
def test_node_lists(text, names):
    assert expand_nodelist(text) == names


@pytest.mark.parametrize("text", ["a[3-1]", "a[1-", "a]", "a[x]", "a,,b", "a[0-999999999]"])
def test_bad_node_lists(text):
    with pytest.raises(ValueError):
        expand_nodelist(text)


@pytest.mark.parametrize(
    "text, items",
    [
        ("gpu:a100:4", [Gres("gpu", "a100", 4)]),
        ("gpu:a100:4(S:0-1)", [Gres("gpu", "a100", 4)]),
        ("gpu:a100:1(IDX:0)", [Gres("gpu", "a100", 1, (0,))]),
        ("gpu:a100:3(IDX:0-1,3)", [Gres("gpu", "a100", 3, (0, 1, 3))]),
        ("gpu:a100:0(IDX:N/A)", [Gres("gpu", "a100", 0, ())]),
        ("gres:gpu:a100:2", [Gres("gpu", "a100", 2)]),  # squeue %b, 22.05
        ("gres/gpu:a100:2", [Gres("gpu", "a100", 2)]),  # squeue %b, 23.02 and later
        ("gres/gpu:a100=2", [Gres("gpu", "a100", 2)]),  # TRES
        ("gpu:4", [Gres("gpu", None, 4)]),
        ("gpu", [Gres("gpu", None, 1)]),
        ("mps:1K", [Gres("mps", None, 1024)]),
        ("gpu:a100:2,gpu:v100:1", [Gres("gpu", "a100", 2), Gres("gpu", "v100", 1)]),
        ("N/A", []),
        ("(null)", []),
    ],
)
def test_gres(text, items):
    assert parse_gres(text) == items


@pytest.mark.parametrize("text", ["gpu:a:b:4", "gpu(IDX:0", "gpu=x", "gp u:1"])
def test_bad_gres(text):
    with pytest.raises(ValueError):
        parse_gres(text)


def test_tres():
    tres = "billing=21,cpu=1,gres/gpu:a100=2,gres/gpu=2,mem=500M,node=1"
    assert parse_tres(tres)["mem"] == "500M"
    assert gres_from_tres(tres) == "gpu:a100:2"
    assert gres_from_tres("cpu=1,gres/gpu=2") == "gpu:2"
    assert gres_from_tres("cpu=1,mem=500M") is None
    assert gres_from_tres("") is None


def test_exit_codes():
    assert parse_exit_code("0:0") == (0, 0)
    assert parse_exit_code("3:0") == (3, 0)
    assert parse_exit_code("0:9") == (0, 9)
    assert parse_exit_code("") == (None, None)
    with pytest.raises(ValueError):
        parse_exit_code("x:1")


def test_key_values_with_spaces_and_unknown_keys():
    line = (
        "NodeName=vm CoresPerSocket=16  CPUAlloc=1 OS=Linux 6.1 #1 SMP PREEMPT_DYNAMIC @0  "
        "RealMemory=16000 CfgTRES=cpu=16,gres/gpu=4 Reason=Not responding [root@2026] "
        "SomeFutureKey=yes"
    )
    kv = parse_kv(line)
    assert kv["OS"] == "Linux 6.1 #1 SMP PREEMPT_DYNAMIC @0"
    assert kv["CfgTRES"] == "cpu=16,gres/gpu=4"
    assert kv["Reason"] == "Not responding [root@2026]"
    assert kv["SomeFutureKey"] == "yes"


@pytest.mark.parametrize(
    "state, available",
    [
        ("IDLE", True),
        ("MIXED", True),
        ("ALLOCATED", True),
        ("MIXED+COMPLETING", True),
        ("IDLE+DRAIN", False),
        ("DOWN*", False),
        ("DOWN", False),
        ("INVAL", False),
        ("IDLE+NOT_RESPONDING", False),
        ("MIXED+DRAIN", False),
    ],
)
def test_node_availability(state, available):
    assert node_available(state) is available


def test_no_value_spellings():
    for text in ("N/A", "(null)", "None", "NONE", "Unknown", "None assigned", " ", ""):
        assert opt(text) is None
    assert opt(" proja ") == "proja"


def test_clean_message():
    stderr = (
        "sbatch: error: invalid partition specified: nosuch\n"
        "sbatch: error: Batch job submission failed: Invalid partition name specified\n"
    )
    assert clean_message(stderr) == (
        "invalid partition specified: nosuch; "
        "Batch job submission failed: Invalid partition name specified"
    )
    assert clean_message("slurm_load_jobs error: Socket timed out on send/recv operation\n") == (
        "slurm_load_jobs error: Socket timed out on send/recv operation"
    )


def test_classify_failure():
    refused = classify_failure(["sbatch"], 1, "sbatch: error: Invalid qos specification\n")
    assert type(refused) is CommandFailed and refused.returncode == 1
    for text in (
        "slurm_load_jobs error: Unable to contact slurm controller (connect failure)",
        "slurm_load_jobs error: Socket timed out on send/recv operation",
        "sacct: error: Problem talking to the database: Connection refused",
    ):
        assert isinstance(classify_failure(["squeue"], 1, text), SlurmUnreachable)


def test_looks_not_found():
    assert looks_not_found(1, "runuser: failed to execute /x: No such file or directory", "runuser")
    assert looks_not_found(1, "sudo: /x: command not found", "sudo")
    assert not looks_not_found(1, "sbatch: error: No such file or directory", "runuser")
    assert not looks_not_found(2, "runuser: failed to execute /x", "runuser")
