"""A project's money budget as Slurm enforces it (ARCHITECTURE.md decision 9, F11 wallet).

The budget is `GrpTRESMins=billing=<limit>` on the project QOS, with `Flags+=NoDecay` so the
QOS's usage is never decayed (association usage decays with PriorityDecayHalfLife). What
slurmctld has counted so far is read from `scontrol show assoc_mgr flags=qos qos=<name>`:

    QOS=p_t1(57)
        UsageRaw=61.000000
        GrpTRESMins=cpu=N(0),...,billing=3(1),...

`billing=3(1)` is the limit (N: none) and the billing-minutes used. Slurm 22.05 adds a
running job's usage in its priority thread (every PriorityCalcPeriod, 5 min by default) and
at the job's end, so `used` lags a running job by up to that period. With
AccountingStorageEnforce=safe a job starts only if its whole time limit × billing fits in
what is left; otherwise it stays pending with reason `QOSGrpBillingMinutes`.

Every call runs as the Slurm operator, like adapters.accounts. Only the two settings are
touched: other QOS settings (GrpTRES, MaxTRESPerJob set by approvals, other flags) stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from adapters.accounts_values import BASE_FLAGS, NOTHING, check_name
from adapters.dbdlock import one_change_at_a_time
from adapters.errors import AdapterError, SlurmRejected, SlurmUnreachable, classify_failure
from adapters.runner import CommandRunner, find_command, validate_user

_QOS_HEAD = re.compile(r"^QOS=(?P<name>[^()\s]+)\((?P<id>\d+)\)\s*$")
_BILLING = re.compile(r"(?:^|,)billing=(?P<limit>N|\d+)\((?P<used>\d+)\)(?:,|$)")
_RAW = re.compile(r"^UsageRaw=(?P<raw>[0-9.]+)$")


@dataclass(frozen=True)
class BillingBudget:
    """A QOS's billing-minutes limit (None: no limit) and what slurmctld counted so far."""

    qos: str
    limit_minutes: int | None
    used_minutes: int
    usage_raw: float = 0.0  # UsageRaw: billing-seconds (all of it, never decayed with NoDecay)


def parse_assoc_mgr_qos(text: str) -> dict[str, BillingBudget]:
    """QOS name → its budget, from `scontrol show assoc_mgr flags=qos` output (QOS that
    slurmctld has not cached are absent). Raises ValueError for a QOS record without a
    GrpTRESMins billing entry (a format this parser does not know)."""
    found: dict[str, BillingBudget] = {}
    current: str | None = None
    raw = 0.0
    for line in (text or "").splitlines():
        line = line.strip()
        head = _QOS_HEAD.match(line)
        if head:
            if current is not None and current not in found:
                raise ValueError(f"QOS {current} has no GrpTRESMins line")
            current, raw = head.group("name"), 0.0
            continue
        if current is None or current in found:
            continue
        match = _RAW.match(line)
        if match:
            raw = float(match.group("raw"))
        elif line.startswith("GrpTRESMins="):
            billing = _BILLING.search(line[len("GrpTRESMins="):])
            if billing is None:
                raise ValueError(f"no billing in {line[:120]!r}")
            limit = billing.group("limit")
            found[current] = BillingBudget(current, None if limit == "N" else int(limit),
                                           int(billing.group("used")), raw)
    if current is not None and current not in found:
        raise ValueError(f"QOS {current} has no GrpTRESMins line")
    return found


class SlurmBudget:
    """Read and set a QOS's billing budget. Raises SlurmUnreachable, CommandTimeout,
    SlurmRejected (Slurm's own words); ValueError for a QOS name or limit Slurm would
    misread."""

    def __init__(self, runner: CommandRunner | None = None, bin_dir: str | None = None,
                 operator: str | None = None):
        self.runner = runner or CommandRunner()
        self.bin_dir = bin_dir
        self.operator = validate_user(operator) if operator else None

    def read(self, qos: str) -> BillingBudget | None:
        """One QOS's budget; None when slurmctld does not know the QOS."""
        return self._show([f"qos={check_name(qos, 'QOS')}"]).get(qos)

    def read_all(self) -> dict[str, BillingBudget]:
        """Every QOS's budget in one call (the worker's cycle)."""
        return self._show([])

    def _show(self, where: list[str]) -> dict[str, BillingBudget]:
        argv = [find_command("scontrol", self.bin_dir), "show", "assoc_mgr", "flags=qos", *where]
        result = self.runner.run(argv, as_user=self.operator, check=False)
        if result.returncode != 0:
            raise _failure(result)
        try:
            return parse_assoc_mgr_qos(result.stdout)
        except ValueError as exc:
            raise SlurmRejected(f"unexpected scontrol output: {exc}", argv, result.stdout,
                                result.returncode) from exc

    def set_limit(self, qos: str, minutes: int | None) -> bool:
        """Set GrpTRESMins=billing=<minutes> (None: no limit) and Flags+=NoDecay."""
        if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int)
                                    or minutes < 0):
            raise ValueError(f"a billing-minutes limit is a whole number ≥ 0: {minutes!r}")
        value = -1 if minutes is None else minutes
        argv = [find_command("sacctmgr", self.bin_dir), *BASE_FLAGS, "modify", "qos", "where",
                f"Name={check_name(qos, 'QOS')}", "set", f"GrpTRESMins=billing={value}",
                "Flags+=NoDecay"]
        with one_change_at_a_time(argv):
            result = self.runner.run(argv, as_user=self.operator, check=False)
        if result.returncode == 0:
            return True
        if not result.stderr.strip() and any(n in result.stdout.lower() for n in NOTHING):
            return False
        raise _failure(result)


def _failure(result) -> AdapterError:
    text = result.stderr if result.stderr.strip() else result.stdout
    error = classify_failure(result.argv, result.returncode, text)
    if isinstance(error, SlurmUnreachable):
        return error
    return SlurmRejected(error.message, error.argv, error.stderr, error.returncode)
