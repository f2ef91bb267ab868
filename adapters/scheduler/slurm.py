"""The Slurm adapter: the scheduler interface over the Slurm CLI, like Open OnDemand.

Every call goes through the one `CommandRunner` (decision 2): argv lists, a timeout,
a minimal environment. Work done for a user (sbatch, scontrol hold/release, scancel)
runs as that user (decision 1); reads (squeue, sacct, scontrol show) run as the portal
and fetch everyone's jobs in one call (decision 3). Binaries are called by absolute path
so a production sudoers rule can name them exactly.
"""

from __future__ import annotations

import logging
import pwd
import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from adapters.errors import (
    AdapterError,
    CommandFailed,
    CommandTimeout,
    JobNotFound,
    SlurmRejected,
    SlurmUnreachable,
)
from adapters.runner import CommandResult, CommandRunner, find_command, validate_user
from adapters.scheduler.base import ClusterInfo, JobInfo, JobSpec, JobState, Scheduler
from adapters.scheduler.parsers import (
    FS,
    gpu_totals,
    job_id,
    parse_node,
    parse_partition,
    parse_sacct,
    parse_scontrol,
    parse_squeue,
    sacct_format,
    squeue_format,
)

log = logging.getLogger(__name__)

# JobSpec field → sbatch long option, in the order they appear on the command line.
SBATCH_FLAGS = (
    ("job_name", "job-name"),
    ("account", "account"),
    ("partition", "partition"),
    ("qos", "qos"),
    ("gres", "gres"),
    ("nodes", "nodes"),
    ("ntasks_per_node", "ntasks-per-node"),
    ("cpus", "cpus-per-task"),
    ("mem", "mem"),
    ("time", "time"),
    ("begin", "begin"),
    ("dependency", "dependency"),
    ("comment", "comment"),
    ("workdir", "chdir"),
    ("output", "output"),
    ("error", "error"),
)
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_SUBMITTED = re.compile(r"^([0-9]+)(;\S+)?$")
_TEST_START = re.compile(r"to start at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)")
_NOT_FOUND = ("invalid job id specified", "invalid job id")
_ALREADY_DONE = ("already completing or completed", "job/step already completing")


def sbatch_args(spec: JobSpec) -> list[str]:
    """sbatch options for `spec`, one `--name=value` flag per field (never #SBATCH lines).

    The `=` form keeps a value that starts with "-" from being read as an option; the
    script itself goes on stdin, so there is no positional argument at all.
    """
    args = ["--parsable"]
    for attr, option in SBATCH_FLAGS:
        value = getattr(spec, attr)
        if value is not None:
            args.append(f"--{option}={_flag_value(attr, value)}")
    if spec.hold:
        args.append("--hold")
    if spec.extra_env:
        pairs = ",".join(f"{k}={v}" for k, v in sorted(spec.extra_env.items()))
        args.append(f"--export=ALL,{pairs}")
    return args


def _flag_value(attr: str, value: object) -> str:
    if attr == "mem" and isinstance(value, int):
        return f"{value}M"
    if attr == "begin" and isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%dT%H:%M:%S")  # Slurm reads local time
    return str(value)


def parse_submitted(stdout: str) -> str:
    """The job id from `sbatch --parsable` output ("123" or "123;cluster")."""
    lines = [ln.strip() for ln in stdout.splitlines() if ln.strip()]
    match = _SUBMITTED.fullmatch(lines[-1]) if lines else None
    if not match:
        raise ValueError(f"sbatch printed no job id: {stdout[:200]!r}")
    return match.group(1)


class SlurmScheduler(Scheduler):
    """`Scheduler` for Slurm 22.05–24.11 through its commands.

    `bin_dir` holds the Slurm binaries (default: found on the minimal PATH); `cluster`
    adds `--clusters=<name>` for a multi-cluster setup.
    """

    def __init__(
        self,
        runner: CommandRunner | None = None,
        bin_dir: str | None = None,
        cluster: str | None = None,
    ):
        if cluster is not None and not _NAME.fullmatch(cluster):
            raise ValueError(f"invalid cluster name: {cluster!r}")
        self.runner = runner or CommandRunner()
        self.bin_dir = bin_dir
        self.cluster = cluster
        self._version: str | None = None
        self._paths: dict[str, str] = {}

    # -- commands done for a user -------------------------------------------------------

    def submit(self, spec: JobSpec, *, as_user: str) -> str:
        """Submit as `as_user`; return the job id.

        Without a workdir the job starts in the user's home directory (not the portal's
        cwd). Raises SlurmRejected with Slurm's message (e.g. "Invalid account or
        account/partition combination specified"), SlurmUnreachable, CommandTimeout.
        """
        if spec.workdir is None:
            home = _home_of(as_user)
            spec = replace(spec, workdir=home) if home else spec
        argv = [self._bin("sbatch"), *self._clusters(), *sbatch_args(spec)]
        result = self._for_user(argv, as_user, input=spec.script)
        try:
            return parse_submitted(result.stdout)
        except ValueError as exc:
            raise AdapterError(str(exc), result.argv, result.stderr) from None

    def test_start(self, spec: JobSpec, *, as_user: str) -> datetime:
        """When Slurm would start `spec` now: `sbatch --test-only` as the user (nothing is
        submitted). Slurm prints "sbatch: Job N to start at 2026-12-05T17:05:16 using 1
        processors on nodes vm in partition gpu" (local time) on stderr. Returns an aware
        datetime; raises SlurmRejected with Slurm's words when it would refuse the job."""
        if spec.workdir is None:
            home = _home_of(as_user)
            spec = replace(spec, workdir=home) if home else spec
        argv = [self._bin("sbatch"), *self._clusters(), "--test-only", *sbatch_args(spec)]
        result = self._for_user(argv, as_user, input=spec.script)
        match = _TEST_START.search(result.stderr + "\n" + result.stdout)
        if not match:
            raise AdapterError(f"sbatch --test-only printed no start time: "
                               f"{result.stderr[:200]!r}", result.argv, result.stderr)
        return datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").astimezone()

    def hold(self, job_id: str, *, as_user: str) -> None:
        """Put a user hold on a pending job (JobHeldUser). Raises JobNotFound, SlurmRejected."""
        self._for_user(
            [self._bin("scontrol"), *self._clusters(), "hold", "--", _jid(job_id)], as_user
        )

    def release(self, job_id: str, *, as_user: str) -> None:
        """Release a held job. An operator hold (JobHeldAdmin) gives SlurmRejected."""
        self._for_user(
            [self._bin("scontrol"), *self._clusters(), "release", "--", _jid(job_id)], as_user
        )

    def delete(self, job_id: str, *, as_user: str) -> None:
        """Cancel the job as `as_user`. Idempotent: a job that has ended, or that Slurm no
        longer knows, is not an error (22.05's scancel says nothing about either).

        Raises SlurmRejected for someone else's job ("Access/permission denied").
        """
        argv = [self._bin("scancel"), *self._clusters(), "--", _jid(job_id)]
        try:
            self._for_user(argv, as_user)
        except JobNotFound:
            return
        except SlurmRejected as exc:
            if not any(p in exc.message.lower() for p in _ALREADY_DONE):
                raise

    # -- operator commands (as the portal's own identity, the Slurm operator) --------------

    def operator_hold(self, job_id: str) -> None:
        """`scontrol hold` as the operator: reason JobHeldAdmin, which the owner's own
        `scontrol release` cannot lift ("Access/permission denied", measured on 22.05).
        Raises JobNotFound, SlurmRejected (e.g. the job is no longer pending)."""
        self._operator([self._bin("scontrol"), *self._clusters(), "hold", "--", _jid(job_id)])

    def operator_release(self, job_id: str) -> None:
        """`scontrol release` as the operator (lifts JobHeldAdmin and JobHeldUser)."""
        self._operator([self._bin("scontrol"), *self._clusters(), "release", "--",
                        _jid(job_id)])

    def operator_move(self, job_id: str, *, account: str) -> None:
        """`scontrol update JobId=<id> Account=<account>` as the operator. An operator's
        update skips the submit limits (MaxSubmitJobs) that stop the owner doing the same."""
        self._operator([self._bin("scontrol"), *self._clusters(), "update",
                        f"JobId={_jid(job_id)}", f"Account={_name('account', account)}"])

    def operator_cancel(self, job_id: str) -> None:
        """`scancel` as the operator; an ended or unknown job is not an error."""
        argv = [self._bin("scancel"), *self._clusters(), "--", _jid(job_id)]
        try:
            self._operator(argv)
        except JobNotFound:
            return
        except SlurmRejected as exc:
            if not any(p in exc.message.lower() for p in _ALREADY_DONE):
                raise

    def operator_set_time_limit(self, job_id: str, minutes: int) -> None:
        """`scontrol update JobId=<id> TimeLimit=<minutes>` as the operator. Slurm lets a
        user only lower a limit; raising it (an extension, issue #17) takes an operator,
        which job_submit.lua admits (OPERATOR_UIDS). Raises JobNotFound, SlurmRejected."""
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
            raise ValueError(f"invalid time limit: {minutes!r}")
        self._operator([self._bin("scontrol"), *self._clusters(), "update",
                        f"JobId={_jid(job_id)}", f"TimeLimit={minutes}"])

    def _operator(self, argv: list[str]) -> CommandResult:
        try:
            return self.runner.run(argv)
        except CommandFailed as exc:
            if isinstance(exc, SlurmUnreachable | SlurmRejected):
                raise
            if _says_not_found(exc.stderr):
                raise JobNotFound(exc.message, exc.argv, exc.stderr) from None
            raise SlurmRejected(exc.message, exc.argv, exc.stderr, exc.returncode) from None

    # -- reads (as the portal, one call for everyone) -----------------------------------

    def info(self, job_id: str, *, as_user: str | None = None) -> JobInfo:
        """The job from squeue while the controller remembers it, else from sacct.

        A job that has ended gets its exit code from sacct. squeue stays the authority
        while it has the job: slurmdbd lags the controller by seconds, and a fresh sacct
        record can still say PENDING, or name the job "allocation". Raises JobNotFound
        when neither knows it; SlurmUnreachable/CommandTimeout when they cannot be asked.
        """
        jid = _jid(job_id)
        live = next((j for j in self._squeue([f"--jobs={jid}"], as_user) if j.id == jid), None)
        if live is not None and not live.state.is_terminal:
            return live
        try:
            past = next((j for j in self.history([jid]) if j.id == jid), None)
        except AdapterError:
            if live is None:
                raise
            return live  # the accounting DB is down but squeue still remembers the job
        if live is None:
            if past is None:
                raise JobNotFound(f"job {jid} not found", [], "")
            return past
        if past is not None and past.state.is_terminal:
            live.exit_code, live.exit_signal = past.exit_code, past.exit_signal
            live.tres = past.tres
        return live

    def info_all(
        self,
        *,
        user: str | None = None,
        account: str | None = None,
        states: Iterable[JobState | str] | None = None,
        comment: str | None = None,
        job_ids: Iterable[str] | None = None,
    ) -> list[JobInfo]:
        """Jobs the controller knows (recently finished ones included), with one squeue.

        `states` and `comment` are filtered here (squeue cannot filter by comment).
        """
        filters = ["--user=" + validate_user(user)] if user is not None else []
        if account is not None:
            filters.append("--account=" + _name("account", account))
        if job_ids is not None:
            ids = [_jid(j) for j in job_ids]
            if not ids:
                return []
            filters.append("--jobs=" + ",".join(ids))
        jobs = self._squeue(filters)
        if states is not None:
            wanted = {JobState(s) for s in states}
            jobs = [j for j in jobs if j.state in wanted]
        if comment is not None:
            jobs = [j for j in jobs if j.comment == comment]
        return jobs

    def status(self, job_id: str) -> JobState:
        """The job's state; UNKNOWN when Slurm cannot be asked (never "gone").

        Raises JobNotFound when Slurm answered and knows no such job.
        """
        try:
            return self.info(job_id).state
        except (SlurmUnreachable, CommandTimeout) as exc:
            log.warning("state of job %s unknown: %s", job_id, exc.message)
            return JobState.UNKNOWN

    def find_by_comment(self, tag: str, *, user: str | None = None) -> JobInfo | None:
        """The first (lowest id) job the controller knows with comment `tag`, or None.

        The first is the one a portal row adopts; any later one with the same tag is a
        duplicate that portal/services/duplicates.py cancels."""
        jobs = self.info_all(user=user, comment=tag)
        return min(jobs, key=lambda j: _id_key(j.id)) if jobs else None

    def history(
        self,
        job_ids: Iterable[str] | None = None,
        *,
        since: datetime | None = None,
        user: str | None = None,
    ) -> list[JobInfo]:
        """Jobs from the accounting DB (`sacct -X`: allocations, not steps).

        Without `-D` a requeued job appears once, in its latest run. Without `job_ids`
        or `since` sacct's own default window applies (since midnight).
        """
        argv = [
            self._bin("sacct"),
            *self._clusters(),
            "--noheader",
            "--parsable2",
            f"--delimiter={FS}",
            "--allocations",
            f"--format={sacct_format()}",
        ]
        if job_ids is not None:
            ids = [_jid(j) for j in job_ids]
            if not ids:
                return []
            argv.append("--jobs=" + ",".join(ids))
        if since is not None:
            argv.append("--starttime=" + since.astimezone().strftime("%Y-%m-%dT%H:%M:%S"))
        argv.append("--user=" + validate_user(user) if user is not None else "--allusers")
        jobs, problems = parse_sacct(self._read(argv).stdout)
        _log_problems("sacct", problems)
        return jobs

    def cluster_info(self) -> ClusterInfo:
        """Partitions, nodes (CPU, memory, GPUs per model) and GPU totals/free."""
        scontrol = [self._bin("scontrol"), *self._clusters(), "--oneliner"]
        parts = parse_scontrol(self._read([*scontrol, "show", "partition"]).stdout)
        nodes = parse_scontrol(self._read([*scontrol, "--details", "show", "node"]).stdout)
        node_infos = [parse_node(kv) for kv in nodes]
        return ClusterInfo(
            partitions=[parse_partition(kv) for kv in parts],
            nodes=node_infos,
            gpu_models=gpu_totals(node_infos),
            version=self.version(),
        )

    def version(self) -> str:
        """The Slurm client version ("22.05.8"), asked once."""
        if self._version is None:
            out = self._read([self._bin("scontrol"), "--version"]).stdout.split()
            self._version = out[-1] if out else ""
        return self._version

    # -- plumbing -----------------------------------------------------------------------

    def _squeue(self, filters: list[str], as_user: str | None = None) -> list[JobInfo]:
        argv = [
            self._bin("squeue"),
            *self._clusters(),
            "--noheader",
            "--states=all",
            f"--Format={squeue_format()}",
            *filters,
        ]
        try:
            result = self.runner.run(argv, as_user=as_user)
        except CommandFailed as exc:
            # squeue refuses a --jobs list it knows nothing of; that is "no such job".
            if not isinstance(exc, SlurmUnreachable) and _says_not_found(exc.stderr):
                return []
            raise
        jobs, problems = parse_squeue(result.stdout)
        _log_problems("squeue", problems)
        return jobs

    def _read(self, argv: list[str]) -> CommandResult:
        return self.runner.run(argv)

    def _for_user(self, argv: list[str], as_user: str, input: str | None = None) -> CommandResult:
        """Run as the user; a refusal becomes SlurmRejected (or JobNotFound)."""
        try:
            return self.runner.run(argv, as_user=as_user, input=input)
        except CommandFailed as exc:
            if isinstance(exc, SlurmUnreachable | SlurmRejected):
                raise
            if _says_not_found(exc.stderr):
                raise JobNotFound(exc.message, exc.argv, exc.stderr) from None
            raise SlurmRejected(exc.message, exc.argv, exc.stderr, exc.returncode) from None

    def _bin(self, name: str) -> str:
        path = self._paths.get(name)
        if path is None:
            path = self._paths[name] = find_command(name, self.bin_dir)
        return path

    def _clusters(self) -> list[str]:
        return [f"--clusters={self.cluster}"] if self.cluster else []


def _jid(value: str) -> str:
    try:
        return job_id(str(value))
    except ValueError:
        raise ValueError(f"invalid job id: {value!r}") from None


def _name(what: str, value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(f"invalid {what}: {value!r}")
    return value


def _home_of(user: str) -> str | None:
    try:
        return pwd.getpwnam(validate_user(user)).pw_dir
    except KeyError:
        return None


def _says_not_found(stderr: str) -> bool:
    low = stderr.lower()
    return any(p in low for p in _NOT_FOUND)


def _id_key(jid: str) -> tuple[int, str]:
    head = re.match(r"[0-9]+", jid)
    return (int(head.group()) if head else 0, jid)


def _log_problems(command: str, problems: list[str]) -> None:
    for problem in problems:
        log.warning("%s: skipped an unreadable record: %s", command, problem)
