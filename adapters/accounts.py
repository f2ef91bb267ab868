"""sacctmgr: Slurm accounts, user associations, coordinators and QOS (ARCHITECTURE.md).

Projects are accounts, members are associations, managers are coordinators and quotas are
QOS/association limits. Like ColdFront's Slurm plugin every change is an idempotent
`sacctmgr -i` call: "Nothing new added", "Nothing modified", "Nothing deleted" and
"Nothing removed" (exit status 1, nothing on stderr; 24.11 also "Already existing account",
"Nothing added") mean the state is already there, and the call reports "unchanged" instead
of failing. `noop=True` is a dry run: changes are
logged and kept in `.planned` instead of being made; reads still ask slurmdbd.

Every call runs as the Slurm operator (the portal's own identity, or `operator` through
the runner's run-as prefix), never as a portal user. Names are checked before they reach
the command line: sacctmgr silently lower-cases account names, accepts blanks and "!",
and reads "a,b" as two accounts, so anything but a plain lower-case name is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from adapters.accounts_values import (
    ACCOUNT_FIELDS,
    ACCOUNT_SETTINGS,
    ASSOC_FIELDS,
    BASE_FLAGS,
    NOT_DONE,
    NOTHING,
    QOS_FIELDS,
    QOS_SETTINGS,
    AccountRecord,
    Association,
    QosRecord,
    check_name,
    format_settings,
    parse_accounts,
    parse_associations,
    parse_qos,
    parse_tres,
    tres_update,
)
from adapters.dbdlock import one_change_at_a_time
from adapters.errors import AdapterError, SlurmRejected, SlurmUnreachable, classify_failure
from adapters.runner import CommandResult, CommandRunner, find_command, validate_user

log = logging.getLogger(__name__)

__all__ = [
    "AccountRecord", "Association", "QosRecord", "SlurmAccounts", "check_name", "tres_update",
]


# -- the adapter ------------------------------------------------------------------------


class SlurmAccounts:
    """Accounts, associations, coordinators and QOS through `sacctmgr`.

    Every method may raise `SlurmUnreachable` (slurmdbd down), `CommandTimeout`,
    `CommandNotFound`, or `SlurmRejected` carrying sacctmgr's own words; mutations raise
    ValueError for a name or value sacctmgr would misread. Mutations return True when
    something changed (or would, in a dry run) and False when it was already so.
    """

    def __init__(
        self,
        runner: CommandRunner | None = None,
        bin_dir: str | None = None,
        cluster: str | None = None,
        operator: str | None = None,
        noop: bool = False,
    ):
        self.runner = runner or CommandRunner()
        self.bin_dir = bin_dir
        self.cluster = check_name(cluster, "cluster") if cluster else None
        self.operator = validate_user(operator) if operator else None
        self.noop = noop
        self.planned: list[list[str]] = []

    # -- reads --------------------------------------------------------------------------

    def accounts(self, names: Iterable[str] | None = None) -> list[AccountRecord]:
        """Accounts with their coordinators (all of them when `names` is None)."""
        if names is not None:
            names = [check_name(n, "account") for n in names]
            if not names:
                return []
        where = self._where(Name=names)
        fmt = f"format={','.join(ACCOUNT_FIELDS)}"
        return parse_accounts(self._read(["show", "account", *where, "withcoord", fmt]))

    def associations(self, account: str | None = None) -> list[Association]:
        """Associations of one account (its own and its users'), or of every account."""
        accounts = [check_name(account, "account")] if account else None
        where = self._where(Account=accounts, Cluster=self._cl())
        fmt = f"format={','.join(ASSOC_FIELDS)}"
        return parse_associations(self._read(["show", "assoc", *where, fmt]))

    def qos(self, names: Iterable[str] | None = None) -> list[QosRecord]:
        """QOS definitions (all of them when `names` is None)."""
        if names is not None:
            names = [check_name(n, "QOS") for n in names]
            if not names:
                return []
        where = self._where(Name=names)
        return parse_qos(self._read(["show", "qos", *where, f"format={','.join(QOS_FIELDS)}"]))

    def max_tres(self, account: str | None = None) -> dict[str, dict[str, int]]:
        """Account → the per-job TRES cap (MaxTRES) set on the account's own association
        (approvals: gres/gpu); accounts without one map to {}."""
        accounts = [check_name(account, "account")] if account else None
        where = self._where(Account=accounts, Cluster=self._cl())
        out: dict[str, dict[str, int]] = {}
        for line in self._read(["show", "assoc", *where, "format=account,user,maxtres"]
                               ).splitlines():
            parts = line.split("|")
            if len(parts) >= 3 and parts[0].strip() and not parts[1].strip():
                out[parts[0].strip()] = parse_tres(parts[2])
        return out

    # -- accounts and users -------------------------------------------------------------

    def add_account(self, name: str, settings: Mapping[str, object] | None = None,
                    parent: str = "root") -> bool:
        args = ["add", "account", f"Name={check_name(name, 'account')}",
                f"Parent={check_name(parent, 'account')}", *self._cluster_arg()]
        return self._change(args + format_settings(settings or {}, ACCOUNT_SETTINGS))

    def modify_account(self, name: str, settings: Mapping[str, object]) -> bool:
        where = self._where(Name=[check_name(name, "account")], Cluster=self._cl())
        sets = format_settings(settings, ACCOUNT_SETTINGS)
        return self._change(["modify", "account", *where, "set", *sets])

    def remove_account(self, name: str) -> bool:
        """Remove the account itself (with `Cluster=` sacctmgr would only drop that
        cluster's associations and keep an empty account)."""
        return self._change(["remove", "account", "where", f"Name={check_name(name, 'account')}"])

    def add_user(self, user: str, account: str) -> bool:
        return self._change(["add", "user", f"Name={validate_user(user)}",
                             f"Account={check_name(account, 'account')}", *self._cluster_arg()])

    def remove_user(self, user: str, account: str) -> bool:
        where = self._where(Name=[validate_user(user)],
                            Account=[check_name(account, "account")], Cluster=self._cl())
        return self._change(["remove", "user", *where])

    def add_coordinator(self, user: str, account: str) -> bool:
        return self._change(["add", "coordinator", f"Account={check_name(account, 'account')}",
                             f"Names={validate_user(user)}"])

    def remove_coordinator(self, user: str, account: str) -> bool:
        return self._change(["remove", "coordinator",
                             f"Account={check_name(account, 'account')}",
                             f"Names={validate_user(user)}"])

    # -- QOS ----------------------------------------------------------------------------

    def add_qos(self, name: str, settings: Mapping[str, object] | None = None) -> bool:
        sets = format_settings(settings or {}, QOS_SETTINGS)
        return self._change(["add", "qos", f"Name={check_name(name, 'QOS')}", *sets])

    def modify_qos(self, name: str, settings: Mapping[str, object]) -> bool:
        sets = format_settings(settings, QOS_SETTINGS)
        return self._change(["modify", "qos", "where", f"Name={check_name(name, 'QOS')}",
                             "set", *sets])

    def remove_qos(self, name: str) -> bool:
        return self._change(["remove", "qos", "where", f"Name={check_name(name, 'QOS')}"])

    # -- plumbing -----------------------------------------------------------------------

    def _cl(self) -> list[str] | None:
        return [self.cluster] if self.cluster else None

    def _cluster_arg(self) -> list[str]:
        return [f"Cluster={self.cluster}"] if self.cluster else []

    @staticmethod
    def _where(**conditions: Iterable[str] | None) -> list[str]:
        parts = [f"{k}={','.join(vs)}" for k, vs in conditions.items() if vs is not None]
        return ["where", *parts] if parts else []

    def _argv(self, args: list[str]) -> list[str]:
        return [find_command("sacctmgr", self.bin_dir), *BASE_FLAGS, *args]

    def _read(self, args: list[str]) -> str:
        result = self.runner.run(self._argv(args), as_user=self.operator, check=False)
        if result.returncode != 0:
            raise _failure(result)
        return result.stdout

    def _change(self, args: list[str]) -> bool:
        argv = self._argv(args)
        if self.noop:
            self.planned.append(argv)
            log.info("dry run: %s", " ".join(argv))
            return True
        with one_change_at_a_time(argv):
            result = self.runner.run(argv, as_user=self.operator, check=False)
        if result.returncode == 0:
            return True
        said = result.stdout.lower()
        if (not result.stderr.strip() and any(n in said for n in NOTHING)
                and not any(n in said for n in NOT_DONE)):
            return False
        raise _failure(result)


def _failure(result: CommandResult) -> AdapterError:
    """SlurmUnreachable when slurmdbd did not answer, else SlurmRejected with its words."""
    text = result.stderr if result.stderr.strip() else result.stdout
    error = classify_failure(result.argv, result.returncode, text)
    if isinstance(error, SlurmUnreachable):
        return error
    return SlurmRejected(error.message, error.argv, error.stderr, error.returncode)
