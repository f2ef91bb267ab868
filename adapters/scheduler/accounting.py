"""Finished allocations from Slurm's accounting database, for the portal's import (F11).

One operator call per worker cycle (decision 3):

    sacct --allusers --noheader --parsable2 --delimiter=<US> --allocations
          --format=JobIDRaw,User,Account,Partition,QOS,State,Submit,Start,End,ElapsedRaw,
                   AllocTRES,Comment
          --state=CA,CD,F,NF,PR,TO,OOM,DL,BF --starttime=<since> --endtime=<until>

With `--state`, Slurm 22.05 selects the jobs that were in one of those (terminal) states
during the window, i.e. the allocations that *ended* between `since` and `until`; a job
that started long before `since` is still returned once it ends. Times are printed (and
read) in the cluster's local time; `parse_accounting_line` gives naive UTC. `-X`
(`--allocations`) folds steps into the allocation. A job cancelled while pending never
had an allocation (Start "Unknown", no AllocTRES): it is skipped, it cost nothing.

AllocTRES ("billing=21,cpu=1,gres/gpu:a100=2,gres/gpu=2,mem=500M,node=1") gives CPUs,
memory (K/M/G/T/P suffixes, decimals allowed: "1.50G"), GPUs, the GPU model (the typed
`gres/gpu:<model>` entry; the one with most GPUs when several) and `billing`, Slurm's
own weighted sum (TRESBillingWeights, truncated to an integer) — the basis of every cost.

What an ended job used (issue #17 item 6, like `seff`): `SlurmAccounting.usage(ids)` asks
for those jobs *with their steps* (no `-X`): on 22.05 the allocation line's TotalCPU is the
sum of its steps' (with `-X` it reads 00:00:00) and MaxRSS is only on step lines, so the
job's peak is the largest of its steps'. `parse_usage` folds the lines into one `JobUsage`
per job.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from adapters.runner import CommandRunner, find_command, validate_user
from adapters.scheduler.parsers import job_id
from adapters.scheduler.values import opt, parse_datetime, parse_tres

FS = "\x1f"
FIELDS = (
    "JobIDRaw",
    "User",
    "Account",
    "Partition",
    "QOS",
    "State",
    "Submit",
    "Start",
    "End",
    "ElapsedRaw",
    "AllocTRES",
    "Comment",
)
# Terminal job states sacct 22.05 accepts in --state (short forms).
TERMINAL_STATES = ("CA", "CD", "F", "NF", "PR", "TO", "OOM", "DL", "BF")
_TERMINAL_NAMES = frozenset(
    {"CANCELLED", "COMPLETED", "FAILED", "NODE_FAIL", "PREEMPTED", "TIMEOUT",
     "OUT_OF_MEMORY", "DEADLINE", "BOOT_FAIL", "REVOKED"}
)
INT_MAX = 2**31 - 1  # the database columns are 32-bit integers
_AMOUNT = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([KMGTP]?)$")
_INT = re.compile(r"^[0-9]+$")
_STAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$")
_MODEL = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")
_MB_PER = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024**2, "P": 1024**3}


@dataclass(frozen=True)
class TresAlloc:
    """What an allocation held: CPUs, memory in MB, GPUs (and their model), billing."""

    cpus: int = 0
    mem_mb: int = 0
    gpus: int = 0
    gpu_model: str | None = None
    billing: int = 0


@dataclass(frozen=True)
class AccountingRow:
    """One finished allocation, times in naive UTC."""

    job_id: str
    user: str
    account: str
    partition: str
    qos: str
    state: str  # Slurm's word, without "by <uid>" ("CANCELLED")
    submit_at: datetime | None
    start_at: datetime | None
    end_at: datetime | None
    elapsed_s: int
    tres: TresAlloc
    comment: str


# sacct fields of `usage` (steps included); see parse_usage.
USAGE_FIELDS = ("JobIDRaw", "State", "ElapsedRaw", "TotalCPU", "MaxRSS", "ReqMem", "AllocTRES")
# TotalCPU: [DD-][HH:]MM:SS[.fff] ("00:21.259", "01:02:03", "2-01:02:03.5").
_CPU_TIME = re.compile(r"^(?:(?:([0-9]+)-)?([0-9]+):)?([0-9]+):([0-9]+(?:\.[0-9]+)?)$")
_STEP = re.compile(r"^([0-9]+(?:_[0-9]+)?(?:\+[0-9]+)?)(?:\.([A-Za-z0-9_+\-]+))?$")


@dataclass(frozen=True)
class JobUsage:
    """What one ended job used against what it held (seff's inputs)."""

    job_id: str
    state: str
    elapsed_s: int
    total_cpu_s: float  # user + system CPU time of all its steps
    max_rss_mb: float | None  # the largest step's peak resident memory; None: not sampled
    alloc_cpus: int
    alloc_mem_mb: int  # AllocTRES mem (else ReqMem): the memory it held
    gpus: int


def parse_cpu_time(value: str) -> float:
    """sacct's TotalCPU ("00:21.259", "1:02:03", "2-01:02:03.5") in seconds."""
    match = _CPU_TIME.fullmatch(value.strip())
    if not match:
        raise ValueError(f"not a CPU time: {value!r}")
    days, hours, minutes, seconds = match.groups()
    if float(seconds) >= 60 or (hours is not None and int(minutes) >= 60):
        raise ValueError(f"not a CPU time: {value!r}")
    return (int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes) * 60
            + float(seconds))


def parse_req_mem_mb(value: str, cpus: int) -> int:
    """ReqMem in MB: "1G", or before 21.08 "1Gn" (per node) / "500Mc" (per CPU, times
    `cpus`); "" is 0."""
    text = value.strip()
    if not text:
        return 0
    if text[-1] in "nc" and len(text) > 1:
        mb = parse_mem_mb(text[:-1])
        return min(INT_MAX, mb * max(1, cpus)) if text[-1] == "c" else mb
    return parse_mem_mb(text)


def parse_usage(text: str) -> tuple[dict[str, JobUsage], list[str]]:
    """`usage`'s output: {job id: JobUsage} for jobs whose allocation line is there (with
    the steps' MaxRSS folded in), and the problems with lines it could not read."""
    jobs: dict[str, dict] = {}
    rss: dict[str, float] = {}
    problems: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        values = line.split(FS)
        try:
            if len(values) != len(USAGE_FIELDS):
                raise ValueError(f"sacct line has {len(values)} fields, expected "
                                 f"{len(USAGE_FIELDS)}: {line[:80]!r}")
            v = dict(zip(USAGE_FIELDS, values, strict=True))
            match = _STEP.fullmatch(v["JobIDRaw"].strip())
            if not match:
                raise ValueError(f"not a job id: {v['JobIDRaw'][:40]!r}")
            job, step = match.groups()
            if v["MaxRSS"].strip():
                rss[job] = max(rss.get(job, 0.0), parse_mem_mb(v["MaxRSS"]))
            if step is None:
                jobs[job] = _allocation(job, v)
        except ValueError as exc:
            problems.append(str(exc))
    return ({job: JobUsage(**fields, max_rss_mb=rss.get(job)) for job, fields in jobs.items()},
            problems)


def _allocation(job: str, v: dict) -> dict:
    elapsed = opt(v["ElapsedRaw"]) or "0"
    if not _INT.fullmatch(elapsed) or int(elapsed) > INT_MAX:
        raise ValueError(f"not an elapsed time: {elapsed!r}")
    tres = parse_alloc_tres(v["AllocTRES"])
    cpu = v["TotalCPU"].strip()
    return {"job_id": job, "state": v["State"].strip().split(" ", 1)[0].upper()[:32],
            "elapsed_s": int(elapsed), "total_cpu_s": parse_cpu_time(cpu) if cpu else 0.0,
            "alloc_cpus": tres.cpus,
            "alloc_mem_mb": tres.mem_mb or parse_req_mem_mb(v["ReqMem"], tres.cpus),
            "gpus": tres.gpus}


def usage_argv(sacct: str, job_ids: list[str], clusters: list[str] | None = None) -> list[str]:
    """The sacct command line for what these jobs used, steps included."""
    return [sacct, *(clusters or []), "--allusers", "--noheader", "--parsable2",
            f"--delimiter={FS}", f"--format={','.join(USAGE_FIELDS)}",
            f"--jobs={','.join(job_id(j) for j in job_ids)}"]


def parse_mem_mb(value: str) -> int:
    """Memory as sacct prints it ("500M", "1.50G", "2T", "1024K"; no suffix = MB) in MB."""
    match = _AMOUNT.fullmatch(value.strip())
    if not match:
        raise ValueError(f"not a memory amount: {value!r}")
    mb = round(float(match.group(1)) * _MB_PER[match.group(2)])
    if mb > INT_MAX:
        raise ValueError(f"memory amount too large: {value!r}")
    return mb


def _count(key: str, value: str) -> int:
    if not _INT.fullmatch(value) or int(value) > INT_MAX:
        raise ValueError(f"not a count for {key}: {value!r}")
    return int(value)


def parse_alloc_tres(value: str | None) -> TresAlloc:
    """AllocTRES as a `TresAlloc`; an empty value is all zeros. Raises ValueError."""
    items = parse_tres(value)
    cpus = mem = billing = untyped = 0
    typed: dict[str, int] = {}
    for key, amount in items.items():
        key_l = key.lower()
        if key_l == "cpu":
            cpus = _count(key, amount)
        elif key_l == "mem":
            mem = parse_mem_mb(amount)
        elif key_l == "billing":
            billing = _count(key, amount)
        elif key_l == "gres/gpu":
            untyped = _count(key, amount)
        elif key_l.startswith("gres/gpu:"):
            model = key[len("gres/gpu:"):]
            if not _MODEL.fullmatch(model):
                raise ValueError(f"not a GPU model: {model!r}")
            typed[model.lower()] = typed.get(model.lower(), 0) + _count(key, amount)
    gpus = untyped or sum(typed.values())
    model = max(sorted(typed), key=lambda m: typed[m]) if typed else None
    return TresAlloc(cpus=cpus, mem_mb=mem, gpus=gpus, gpu_model=model, billing=billing)


@functools.lru_cache(maxsize=32768)
def _offset(hour: str) -> timedelta:
    """The local zone's UTC offset during the local hour "YYYY-MM-DDTHH" (zones change
    offset on hour boundaries; an ambiguous hour reads as its first pass, like astimezone)."""
    local = datetime(int(hour[0:4]), int(hour[5:7]), int(hour[8:10]), int(hour[11:13]))
    return local - local.astimezone(UTC).replace(tzinfo=None)


def _utc(value: str) -> datetime | None:
    """A local sacct timestamp as naive UTC (strptime is the import's slowest part, so the
    fixed "YYYY-MM-DDTHH:MM:SS" form is read directly; anything else goes the slow way)."""
    text = value.strip()
    if _STAMP.fullmatch(text):
        try:
            local = datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]),
                             int(text[11:13]), int(text[14:16]), int(text[17:19]))
            return local - _offset(text[:13])
        except (OverflowError, OSError) as exc:
            raise ValueError(f"timestamp out of range: {value!r}") from exc
    moment = parse_datetime(value)
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None)


def parse_accounting_line(line: str) -> AccountingRow | None:
    """One line of the import's sacct output; None for a job that never had an allocation
    or has not ended. Raises ValueError for a line it cannot read."""
    values = line.split(FS)
    if len(values) != len(FIELDS):
        raise ValueError(f"sacct line has {len(values)} fields, expected {len(FIELDS)}: "
                         f"{line[:80]!r}")
    v = dict(zip(FIELDS, values, strict=True))
    state = v["State"].strip().split(" ", 1)[0].upper()
    if state not in _TERMINAL_NAMES:
        return None
    start, end = _utc(v["Start"]), _utc(v["End"])
    if start is None or end is None:
        return None
    elapsed = opt(v["ElapsedRaw"]) or "0"
    if not _INT.fullmatch(elapsed) or int(elapsed) > INT_MAX:
        raise ValueError(f"not an elapsed time: {elapsed!r}")
    user = v["User"].strip()
    account = (opt(v["Account"]) or "")
    if not user or not account:
        raise ValueError(f"no user or account: {line[:80]!r}")
    return AccountingRow(
        job_id=job_id(v["JobIDRaw"].strip()),
        user=user[:64],
        account=account[:64],
        partition=(opt(v["Partition"]) or "")[:64],
        qos=(opt(v["QOS"]) or "")[:64],
        state=state[:32],
        submit_at=_utc(v["Submit"]),
        start_at=start,
        end_at=end,
        elapsed_s=int(elapsed),
        tres=parse_alloc_tres(v["AllocTRES"]),
        comment=(opt(v["Comment"]) or "")[:255],
    )


def parse_accounting(text: str) -> tuple[list[AccountingRow], list[str]]:
    """All lines: (finished allocations, problems). Never raises for odd lines."""
    rows, problems = [], []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            row = parse_accounting_line(line)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if row is not None:
            rows.append(row)
    return rows, problems


def _local(moment: datetime) -> str:
    """A naive-UTC (or aware) datetime as the local time sacct reads."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone().strftime("%Y-%m-%dT%H:%M:%S")


def accounting_argv(sacct: str, since: datetime, until: datetime | None = None,
                    clusters: list[str] | None = None) -> list[str]:
    """The sacct command line for allocations that ended between `since` and `until`."""
    return [
        sacct,
        *(clusters or []),
        "--allusers",
        "--noheader",
        "--parsable2",
        f"--delimiter={FS}",
        "--allocations",
        f"--format={','.join(FIELDS)}",
        f"--state={','.join(TERMINAL_STATES)}",
        f"--starttime={_local(since)}",
        f"--endtime={_local(until) if until is not None else 'now'}",
    ]


class SlurmAccounting:
    """Reads finished allocations with sacct for all users, as `operator` (a Slurm operator
    or SlurmUser, needed where PrivateData hides other users' jobs) or the portal itself.

    Raises the runner's typed errors (SlurmUnreachable when slurmdbd does not answer,
    CommandTimeout, CommandFailed).
    """

    def __init__(self, runner: CommandRunner | None = None, bin_dir: str | None = None,
                 cluster: str | None = None, operator: str | None = None):
        self.runner = runner or CommandRunner()
        self.bin_dir = bin_dir
        self.cluster = cluster
        self.operator = validate_user(operator) if operator else None

    @classmethod
    def from_scheduler(cls, scheduler, operator: str | None = None) -> SlurmAccounting:
        return cls(getattr(scheduler, "runner", None), getattr(scheduler, "bin_dir", None),
                   getattr(scheduler, "cluster", None), operator)

    def finished(self, since: datetime, until: datetime | None = None
                 ) -> tuple[list[AccountingRow], list[str]]:
        clusters = [f"--clusters={self.cluster}"] if self.cluster else []
        argv = accounting_argv(find_command("sacct", self.bin_dir), since, until, clusters)
        return parse_accounting(self.runner.run(argv, as_user=self.operator).stdout)

    def usage(self, job_ids: list[str]) -> tuple[dict[str, JobUsage], list[str]]:
        """What these jobs used (one sacct call, steps included); see parse_usage."""
        if not job_ids:
            return {}, []
        clusters = [f"--clusters={self.cluster}"] if self.cluster else []
        argv = usage_argv(find_command("sacct", self.bin_dir), job_ids, clusters)
        return parse_usage(self.runner.run(argv, as_user=self.operator).stdout)
