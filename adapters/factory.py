"""Every adapter the portal uses, built in one place from one configuration mapping.

Why one place: the command runner (the run-as prefix, the timeout) and the Slurm binary
directory (SLURM_BIN_DIR, e.g. Slurm 24.11's wrappers on a 22.05 host) must mean the same
to every adapter, or sbatch would go to one cluster and sacct to another. So the portal
builds no adapter itself: services, the worker, the CLI and the gateway call the make_*
functions here with Flask's `app.config` (or any dict), and no module under portal/
imports a concrete adapter module (tests/unit/portal/test_adapter_factory.py fails if one
does). Test doubles still come in where they did: `app.extensions` for accounts, budget and
billing weights, a patched `get_backend` for the scheduler and the users' files.

The pure helpers of those modules that the portal needs (argv and value formats; nothing
runs a command) are re-exported at the end, for the same reason.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from adapters import nodeaddr, runner
from adapters.accounts import QosRecord, SlurmAccounts, tres_update
from adapters.billing_weights import (
    SlurmBillingWeights,
    format_weights,
    parse_weights,
    same_weights,
)
from adapters.budget import SlurmBudget
from adapters.pty import TerminalProcess, exec_attach, srun_attach_argv
from adapters.runner import CommandRunner
from adapters.scheduler.accounting import _TERMINAL_NAMES as TERMINAL_STATES
from adapters.scheduler.accounting import AccountingRow, JobUsage, SlurmAccounting
from adapters.scheduler.slurm import SlurmScheduler, sbatch_args
from adapters.userfiles import UserFiles

DEFAULT_TIMEOUT = 30.0


def use_config(config: Mapping) -> None:
    """Process-wide settings every runner made from now on gets (create_app calls this):
    SLURM_CONF for a cluster whose slurm.conf is elsewhere, and SLURM_BIN_DIR first on the
    PATH, so commands named without a directory (also by runuser) are that Slurm's."""
    runner.use_slurm_conf(config.get("SLURM_CONF"))
    runner.use_slurm_bin_dir(config.get("SLURM_BIN_DIR"))


def bin_dir(config: Mapping) -> str | os.PathLike | None:
    """Where the Slurm clients are (SLURM_BIN_DIR); None: found on the command PATH."""
    return config.get("SLURM_BIN_DIR")


def make_runner(config: Mapping) -> CommandRunner:
    """The one way the portal builds a command runner: RUN_AS_PREFIX and COMMAND_TIMEOUT."""
    return CommandRunner(
        run_as_prefix=config.get("RUN_AS_PREFIX"),
        timeout=float(config.get("COMMAND_TIMEOUT") or DEFAULT_TIMEOUT),
    )


def make_scheduler(config: Mapping) -> SlurmScheduler:
    """sbatch/squeue/scontrol/scancel/sacct for jobs and sessions."""
    return SlurmScheduler(runner=make_runner(config), bin_dir=bin_dir(config))


def make_accounting(scheduler, config: Mapping) -> SlurmAccounting:
    """sacct for all users, through `scheduler`'s runner, directory and cluster (a fake
    scheduler's fake runner too), as SLURM_OPERATOR."""
    return SlurmAccounting.from_scheduler(scheduler, config.get("SLURM_OPERATOR"))


def make_billing_weights(scheduler, config: Mapping) -> SlurmBillingWeights:
    """Partitions' TRESBillingWeights through `scheduler`'s runner, as SLURM_OPERATOR."""
    return SlurmBillingWeights.from_scheduler(scheduler, operator=config.get("SLURM_OPERATOR"))


def make_accounts(config: Mapping) -> SlurmAccounts:
    """sacctmgr: SLURM_CLUSTER, SLURM_OPERATOR (default the portal's own identity) and
    ACCOUNTS_DRY_RUN (plan, change nothing)."""
    return SlurmAccounts(
        runner=make_runner(config),
        bin_dir=bin_dir(config),
        cluster=config.get("SLURM_CLUSTER"),
        operator=config.get("SLURM_OPERATOR"),
        noop=bool(config.get("ACCOUNTS_DRY_RUN")),
    )


def make_budget(config: Mapping) -> SlurmBudget:
    """scontrol/sacctmgr on the project QOS's billing budget, as SLURM_OPERATOR."""
    return SlurmBudget(runner=make_runner(config), bin_dir=bin_dir(config),
                       operator=config.get("SLURM_OPERATOR"))


def make_user_files(through: CommandRunner | None = None) -> UserFiles:
    """The users' files, as each user, through `through` (a scheduler's runner, so both
    share one prefix and timeout); without one, the runner's defaults."""
    return UserFiles(through)


def make_terminal(through: CommandRunner, argv: Sequence[str], *, user: str,
                  rows: int = 24, cols: int = 80) -> TerminalProcess:
    """`argv` as `user` in a new pty (the web terminal), through `through`'s prefix."""
    return TerminalProcess(through, argv, user=user, rows=rows, cols=cols)


def attach_argv(config: Mapping, job_id: str, inner: Sequence[str]) -> list[str]:
    """`srun --jobid=ID --overlap --pty INNER...` with SLURM_BIN_DIR's srun."""
    return srun_attach_argv(job_id, inner, bin_dir=bin_dir(config))


def node_address(scheduler, host: str) -> str:
    """Slurm's NodeAddr for `host` through `scheduler`'s runner and directory; with a fake
    scheduler (no real runner) names are addresses."""
    through = getattr(scheduler, "runner", None)
    if not isinstance(through, CommandRunner):
        return host
    return nodeaddr.node_address(through, host, bin_dir=getattr(scheduler, "bin_dir", None))


__all__ = [
    # builders
    "attach_argv", "bin_dir", "make_accounting", "make_accounts", "make_billing_weights",
    "make_budget", "make_runner", "make_scheduler", "make_terminal", "make_user_files",
    "node_address", "use_config",
    # types and pure helpers of the same adapters
    "TERMINAL_STATES", "AccountingRow", "CommandRunner", "JobUsage", "QosRecord",
    "SlurmAccounting", "TerminalProcess", "UserFiles", "exec_attach", "format_weights",
    "parse_weights", "same_weights", "sbatch_args", "tres_update",
]
