"""Slurm command output → typed records. Pure functions, no I/O.

The output formats are requested by `SlurmScheduler` from the field tables below, so
parser and command line cannot drift apart: squeue with `--noheader --format` (fields
joined by the unit separator \\x1f, each record ended by \\x1e so that a job name with a
newline cannot split a record), sacct with `--parsable2 --delimiter=\\x1f`, and
`scontrol show … --oneliner` key=value lines (unknown keys ignored, for newer Slurm).
Everything raises only ValueError on malformed input (hypothesis-tested).
"""

from __future__ import annotations

import re

from adapters.scheduler.base import JobInfo, JobState, NodeInfo, PartitionInfo
from adapters.scheduler.values import (
    expand_nodelist,
    gpus_by_model,
    gres_from_tres,
    opt,
    parse_datetime,
    parse_exit_code,
    parse_gres,
    parse_kv,
    parse_minutes,
    parse_tres,
)

__all__ = [
    "FS",
    "RS",
    "SQUEUE_FIELDS",
    "SACCT_FIELDS",
    "squeue_format",
    "sacct_format",
    "normalize_state",
    "parse_squeue",
    "parse_squeue_record",
    "parse_sacct",
    "parse_sacct_line",
    "parse_node",
    "parse_partition",
    "parse_scontrol",
    "node_available",
    "parse_datetime",
    "parse_minutes",
    "parse_exit_code",
    "expand_nodelist",
    "parse_gres",
    "parse_kv",
]

FS = "\x1f"  # between fields: never appears in names Slurm accepts from the portal
RS = "\x1e"  # after each squeue record

# (squeue --Format field, key) in output order. `--Format` (not `--format`) because only it
# has `tres-alloc`: the TRES allocated to a running job (cpu=…,mem=…,gres/gpu=…), or those
# requested by a pending one. `%m`/MinMemory cannot replace it: with --mem-per-cpu it prints
# the per-CPU value. Width 0 = no padding and no truncation; the suffix is the separator.
# `tres-per-node` is `%b`, the GRES requested per node.
SQUEUE_FIELDS = (
    ("JobID", "id"),
    ("Name", "name"),
    ("UserName", "user"),
    ("Account", "account"),
    ("Partition", "partition"),
    ("QOS", "qos"),
    ("State", "state"),
    ("Reason", "reason"),
    ("NodeList", "nodes"),
    ("tres-per-node", "gres"),
    ("SubmitTime", "submit"),
    ("StartTime", "start"),
    ("EndTime", "end"),
    ("TimeLimit", "time_limit"),
    ("Comment", "comment"),
    ("WorkDir", "workdir"),
    ("tres-alloc", "tres"),
)
SACCT_FIELDS = (
    "JobID",
    "JobName",
    "User",
    "Account",
    "Partition",
    "QOS",
    "State",
    "Reason",
    "NodeList",
    "AllocTRES",
    "Submit",
    "Start",
    "End",
    "Timelimit",
    "ExitCode",
    "Comment",
    "WorkDir",
)

_STATES = {
    JobState.QUEUED: ("PENDING PD CONFIGURING CF REQUEUED RQ REQUEUE_FED RF"),
    JobState.QUEUED_HELD: ("REQUEUE_HOLD RH RESV_DEL_HOLD RD"),
    JobState.RUNNING: ("RUNNING R RESIZING RS SIGNALING SI"),
    JobState.COMPLETING: ("COMPLETING CG STAGE_OUT SO"),
    JobState.COMPLETED: ("COMPLETED CD"),
    JobState.FAILED: ("FAILED F OUT_OF_MEMORY OOM SPECIAL_EXIT SE"),
    JobState.CANCELLED: ("CANCELLED CA REVOKED RV"),
    JobState.TIMEOUT: ("TIMEOUT TO DEADLINE DL"),
    JobState.NODE_FAIL: ("NODE_FAIL NF BOOT_FAIL BF"),
    JobState.PREEMPTED: ("PREEMPTED PR"),
    JobState.SUSPENDED: ("SUSPENDED S STOPPED ST"),
}
STATE_MAP = {name: state for state, names in _STATES.items() for name in names.split()}
# A pending job with one of these reasons waits for a release, not for resources.
HELD_REASONS = frozenset({"JobHeldUser", "JobHeldAdmin", "job_requeued_in_held_state"})
_JOB_ID = re.compile(r"^[0-9]+(_([0-9]+|\[[0-9,\-%]+\]))?(\+[0-9]+)?$")
_UNAVAILABLE = frozenset(
    {
        "DOWN",
        "DRAIN",
        "DRAINED",
        "DRAINING",
        "FAIL",
        "FAILING",
        "INVAL",
        "FUTURE",
        "MAINT",
        "NOT_RESPONDING",
        "UNKNOWN",
        "POWERED_DOWN",
        "POWERING_DOWN",
    }
)


def squeue_format() -> str:
    """The `squeue --Format` string whose output `parse_squeue` reads.

    Every field is `Name:0<sep>`: FS after each field, RS after the last one.
    """
    last = len(SQUEUE_FIELDS) - 1
    return ",".join(f"{code}:0{RS if i == last else FS}"
                    for i, (code, _) in enumerate(SQUEUE_FIELDS))


def sacct_format() -> str:
    """The `sacct --format` string whose output `parse_sacct` reads."""
    return ",".join(SACCT_FIELDS)


def normalize_state(slurm_state: str | None, reason: str | None = None) -> JobState:
    """Slurm's state (long or short form, e.g. "CANCELLED by 1001") as a JobState.

    Unrecognised states give UNKNOWN rather than an error: a newer Slurm may add states.
    """
    token = re.split(r"[\s+]", (slurm_state or "").strip(), maxsplit=1)[0].upper()
    state = STATE_MAP.get(token, JobState.UNKNOWN)
    if state is JobState.QUEUED and (reason or "").strip("()") in HELD_REASONS:
        return JobState.QUEUED_HELD
    return state


def job_id(value: str) -> str:
    """A job id as Slurm prints it ("123", "123_4", "123_[5-9]", "123+0"); else ValueError."""
    value = value.strip()
    if not _JOB_ID.fullmatch(value):
        raise ValueError(f"not a job id: {value!r}")
    return value


def parse_squeue(text: str) -> tuple[list[JobInfo], list[str]]:
    """All records of squeue output: (jobs, problems); a bad record is reported, not fatal."""
    jobs, problems = [], []
    for record in text.split(RS):
        record = _drop_cluster_headers(record.lstrip("\n"))
        if not record.strip():
            continue
        try:
            jobs.append(parse_squeue_record(record))
        except ValueError as exc:
            problems.append(str(exc))
    return jobs, problems


def _drop_cluster_headers(record: str) -> str:
    # With -M/--clusters, squeue prints "CLUSTER: name" lines between records.
    while record.startswith("CLUSTER: "):
        record = record.partition("\n")[2]
    return record


def parse_squeue_record(record: str) -> JobInfo:
    """One squeue record (fields as SQUEUE_FIELDS, without the record separator)."""
    values = record.split(FS)
    if len(values) != len(SQUEUE_FIELDS):
        raise ValueError(
            f"squeue record has {len(values)} fields, expected "
            f"{len(SQUEUE_FIELDS)}: {record[:80]!r}"
        )
    v = dict(zip((key for _, key in SQUEUE_FIELDS), values, strict=True))
    gres = parse_gres(v["gres"])
    return JobInfo(
        id=job_id(v["id"]),
        name=v["name"],
        user=v["user"].strip(),
        state=normalize_state(v["state"], v["reason"]),
        slurm_state=v["state"].strip(),
        account=opt(v["account"]),
        partition=opt(v["partition"]),
        qos=opt(v["qos"]),
        reason=opt(v["reason"]),
        nodes=expand_nodelist(v["nodes"]),
        gres=",".join(str(g) for g in gres) or None,
        tres=_tres(v["tres"]),
        submit_time=parse_datetime(v["submit"]),
        start_time=parse_datetime(v["start"]),
        end_time=parse_datetime(v["end"]),
        time_limit=parse_minutes(v["time_limit"]),
        comment=opt(v["comment"]),
        workdir=opt(v["workdir"]),
    )


def _tres(value: str) -> str | None:
    """A TRES string as Slurm printed it, once checked to parse (else ValueError)."""
    value = opt(value)
    if value is not None:
        parse_tres(value)
    return value


def parse_sacct(text: str) -> tuple[list[JobInfo], list[str]]:
    """All lines of `sacct --parsable2 --noheader` output: (jobs, problems)."""
    jobs, problems = [], []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            jobs.append(parse_sacct_line(line))
        except ValueError as exc:
            problems.append(str(exc))
    return jobs, problems


def parse_sacct_line(line: str) -> JobInfo:
    """One sacct line (fields as SACCT_FIELDS)."""
    values = line.split(FS)
    if len(values) != len(SACCT_FIELDS):
        raise ValueError(
            f"sacct line has {len(values)} fields, expected {len(SACCT_FIELDS)}: {line[:80]!r}"
        )
    v = dict(zip(SACCT_FIELDS, values, strict=True))
    code, sig = parse_exit_code(v["ExitCode"])
    state = v["State"].strip()
    return JobInfo(
        id=job_id(v["JobID"]),
        name=v["JobName"],
        user=v["User"].strip(),
        state=normalize_state(state, v["Reason"]),
        slurm_state=state,
        account=opt(v["Account"]),
        partition=opt(v["Partition"]),
        qos=opt(v["QOS"]),
        reason=opt(v["Reason"]),
        nodes=expand_nodelist(v["NodeList"]),
        gres=gres_from_tres(v["AllocTRES"]),
        tres=opt(v["AllocTRES"]),
        submit_time=parse_datetime(v["Submit"]),
        start_time=parse_datetime(v["Start"]),
        end_time=parse_datetime(v["End"]),
        time_limit=parse_minutes(v["Timelimit"]),
        exit_code=code,
        exit_signal=sig,
        comment=opt(v["Comment"]),
        workdir=opt(v["WorkDir"]),
    )


def parse_scontrol(text: str) -> list[dict[str, str]]:
    """`scontrol show node|partition --oneliner` output as one dict per entity."""
    return [kv for kv in (parse_kv(line) for line in text.splitlines()) if kv]


def node_available(state: str) -> bool:
    """False when a node's state ("IDLE+DRAIN", "DOWN*", …) means it takes no new jobs."""
    if state.endswith("*"):  # not responding
        return False
    flags = set(re.split(r"[+\s]", state.upper().rstrip("$~#!%@^-")))
    return not flags & _UNAVAILABLE


def parse_node(kv: dict[str, str]) -> NodeInfo:
    """A node from `scontrol -d show node --oneliner` key=values."""
    if "NodeName" not in kv:
        raise ValueError("not a node record (no NodeName)")
    total = gpus_by_model(parse_gres(kv.get("Gres")))
    used = gpus_by_model(parse_gres(kv.get("GresUsed")))
    if not used and kv.get("AllocTRES"):
        used = gpus_by_model(parse_gres(gres_from_tres(kv["AllocTRES"])))
    return NodeInfo(
        name=kv["NodeName"],
        state=kv.get("State", ""),
        partitions=[p for p in (opt(kv.get("Partitions")) or "").split(",") if p],
        cpus_total=_int(kv.get("CPUTot")),
        cpus_alloc=_int(kv.get("CPUAlloc")),
        mem_total_mb=_int(kv.get("RealMemory")),
        mem_alloc_mb=_int(kv.get("AllocMem")),
        gpus={m: (n, used.get(m, 0)) for m, n in total.items()},
    )


def parse_partition(kv: dict[str, str]) -> PartitionInfo:
    """A partition from `scontrol show partition --oneliner` key=values."""
    if "PartitionName" not in kv:
        raise ValueError("not a partition record (no PartitionName)")
    return PartitionInfo(
        name=kv["PartitionName"],
        default=kv.get("Default", "NO").upper() == "YES",
        state=kv.get("State", ""),
        nodes=expand_nodelist(kv.get("Nodes")),
        max_time=parse_minutes(kv.get("MaxTime")),
        default_time=parse_minutes(kv.get("DefaultTime")),
        billing_weights=opt(kv.get("TRESBillingWeights")) or "",
    )


def gpu_totals(nodes: list[NodeInfo]) -> dict[str, tuple[int, int]]:
    """Per GPU model (total, free); GPUs on unavailable nodes are not free."""
    out: dict[str, tuple[int, int]] = {}
    for node in nodes:
        usable = node_available(node.state)
        for model, (total, used) in node.gpus.items():
            have, free = out.get(model, (0, 0))
            out[model] = (have + total, free + (max(total - used, 0) if usable else 0))
    return out


def _int(value: str | None) -> int:
    value = opt(value)
    if value is None:
        return 0
    if not (value.isascii() and value.isdigit()):
        raise ValueError(f"not a count: {value!r}")
    return int(value)
