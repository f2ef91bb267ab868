"""Typed errors raised by the command runner and the adapters built on it.

Callers branch on the class, never on message text: a page shows `.message` (Slurm's own
words, cleaned of the "sbatch: error: " prefix), the worker treats `SlurmUnreachable` and
`CommandTimeout` as "state UNKNOWN, try again later" and never as "the job is gone".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# stderr fragments that mean "the controller (or slurmdbd) did not answer", as opposed to
# "it answered and refused". Matched case-insensitively.
UNREACHABLE_PATTERNS = (
    "unable to contact slurm controller",
    "socket timed out on send/recv",
    "connection refused",
    "slurm_load_jobs error: unable to contact",
    "unable to establish connection",
    "zero bytes were transmitted or received",
    "problem talking to the database",
    "slurmdbd: connection",
    # slurmdbd answers but its MariaDB/MySQL does not (measured on 22.05, tests/data/slurm:
    # sacctmgr prints only "Sending PersistInit msg: Unable to connect to database").
    "unable to connect to database",
    "persistinit msg",
    "no response to persist_init",
    # A compute node's slurmd (srun, sattach, scontrol listpids; Slurm's errno words).
    "unable to contact slurmd",
    "communication connection failure",
)
# What is down, by the words of the first pattern that matches (most specific first); the
# program decides where the words alone cannot ("Connection refused").
OUTAGE_PATTERNS = (
    ("database", ("unable to connect to database",)),
    ("slurmdbd", ("persistinit msg", "persist_conn", "persist_init",
                  "problem talking to the database", "slurmdbd: connection")),
    ("node", ("unable to contact slurmd", "communication connection failure")),
    ("controller", ("unable to contact slurm controller", "socket timed out on send/recv",
                    "slurm_load_jobs error", "zero bytes were transmitted or received")),
)
ACCOUNTING_PROGRAMS = ("sacct", "sacctmgr", "sreport", "sshare")
SLURM_PROGRAMS = (*ACCOUNTING_PROGRAMS, "sbatch", "squeue", "scontrol", "scancel", "srun",
                  "sattach", "sinfo", "sstat")
# The request certainly never reached slurmctld: no connection was ever made. Anything else
# ("Socket timed out", a killed sbatch) may still be processed once the controller wakes.
NEVER_SENT_PATTERNS = ("unable to contact slurm controller (connect failure)",)
# How runuser/sudo/the shell say that the target binary does not exist.
NOT_FOUND_PATTERNS = (
    "failed to execute",
    "command not found",
    "no such file or directory",
)
_PREFIX = re.compile(r"^\s*[\w.-]+: (?:error|fatal|warning): ", re.IGNORECASE)


class AdapterError(Exception):
    """Base of every adapter failure: `.message` for people, `.argv`/`.stderr` for logs."""

    returncode: int | None = None

    def __init__(self, message: str, argv: Sequence[str] = (), stderr: str = ""):
        super().__init__(message)
        self.message = message
        self.argv = list(argv)
        self.stderr = stderr


class CommandTimeout(AdapterError):
    """The command ran past its timeout and was killed; its effect is unknown."""


class CommandNotFound(AdapterError):
    """The program (or the run-as helper) does not exist on this machine."""


class CommandFailed(AdapterError):
    """The command exited non-zero; `.returncode` holds its exit status."""

    def __init__(
        self, message: str, argv: Sequence[str] = (), stderr: str = "", returncode: int = 1
    ):
        super().__init__(message, argv, stderr)
        self.returncode = returncode


class SlurmUnreachable(CommandFailed):
    """slurmctld (or slurmdbd) did not answer: a job's state is UNKNOWN, not gone.

    `outage` names what is down ("controller", "slurmdbd", "database", "node" or None).
    """

    @property
    def outage(self) -> str | None:
        return outage_of(self)


class SlurmRejected(CommandFailed):
    """Slurm answered and refused the request (invalid account, permission denied…)."""


class JobNotFound(AdapterError):
    """Neither the controller nor the accounting database knows this job id."""


def clean_message(stderr: str) -> str:
    """Slurm's message without the "prog: error: " prefixes, error lines first.

    Multi-line stderr is joined with "; " so one line can be shown on a page.
    """
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [_PREFIX.sub("", ln) for ln in lines if _PREFIX.match(ln)]
    chosen = errors or [_PREFIX.sub("", ln) for ln in lines]
    return "; ".join(chosen)


def is_unreachable(stderr: str) -> bool:
    """True when stderr says the controller/database could not be reached."""
    low = stderr.lower()
    return any(p in low for p in UNREACHABLE_PATTERNS)


def classify_failure(argv: Sequence[str], returncode: int, stderr: str) -> CommandFailed:
    """The typed error for a command that exited with `returncode` != 0.

    Returns (does not raise) so the caller can add context; `CommandNotFound` is not a
    `CommandFailed`, so it is raised by the runner separately (see `looks_not_found`).
    """
    message = clean_message(stderr) or f"{argv[0] if argv else 'command'} exited {returncode}"
    if is_unreachable(stderr):
        return SlurmUnreachable(message, argv, stderr, returncode)
    return CommandFailed(message, argv, stderr, returncode)


def looks_not_found(returncode: int, stderr: str, helper: str) -> bool:
    """True when the run-as `helper` (runuser, sudo…) says it could not execute the program.

    runuser and sudo exit 1 ("runuser: failed to execute /x: No such file or directory",
    "sudo: /x: command not found"); env and shells exit 127.
    """
    if returncode not in (1, 126, 127):
        return False
    text = stderr.strip()
    first = text.splitlines()[0].lower() if text else ""
    program = first.partition(":")[0].rsplit("/", 1)[-1]  # "/usr/bin/env: …" → "env"
    return program == helper.lower() and any(p in first for p in NOT_FOUND_PATTERNS)


def outage_of(exc: BaseException) -> str | None:
    """What did not answer, for a person: "controller" (slurmctld), "slurmdbd", "database"
    (the MariaDB/MySQL behind slurmdbd), "node" (a compute node's slurmd), or None.

    Judged from the words the command printed, else from the program that timed out or
    could not connect (sacct/sacctmgr talk to slurmdbd, the others to slurmctld).
    """
    if not isinstance(exc, SlurmUnreachable | CommandTimeout):
        return None
    low = (exc.stderr or "").lower() + "\n" + (exc.message or "").lower()
    for component, patterns in OUTAGE_PATTERNS:
        if any(p in low for p in patterns):
            return component
    return "slurmdbd" if _program(exc.argv) in ACCOUNTING_PROGRAMS else "controller"


def never_sent(exc: BaseException) -> bool:
    """True when the command could not even connect to slurmctld, so nothing it asked for
    can ever be done (a refused connection; not a timeout, whose request may still be
    queued inside a frozen controller and processed when it wakes)."""
    if not isinstance(exc, SlurmUnreachable):
        return False
    low = (exc.stderr or exc.message or "").lower()
    return any(p in low for p in NEVER_SENT_PATTERNS)


def _program(argv: Sequence[str]) -> str:
    """The Slurm program in a command line, past any run-as prefix (runuser -u x --)."""
    names = [a.rsplit("/", 1)[-1] for a in argv]
    return next((n for n in names if n in SLURM_PROGRAMS), names[0] if names else "")
