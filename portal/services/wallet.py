"""The wallet (F11, ARCHITECTURE.md decision 9): balance, top-ups, charges, and the budget
Slurm enforces.

Money and billing. Prices are Slurm billing weights (TRESBillingWeights; see
portal.services.prices: a weight is the hourly price × SCALE, SCALE =
`BILLING_UNITS_PER_CURRENCY`, default 100, i.e. cents), so one billing unit for one hour
costs 1/SCALE of a currency unit. A finished job costs `billing × elapsed_s / 3600 / SCALE`,
where `billing` is sacct's AllocTRES billing= — `cost_of` below, and `money_to_minutes` the
one place that turns money into Slurm's billing-minutes. Slurm 22.05 truncates the billing
sacct shows (1 CPU + 500 MB at Mem=0.25G is 1.12 → billing=1) but adds the unrounded
value × seconds to the QOS usage (UsageRaw), so with fractional weights the Slurm budget
is used up slightly before the balance; with whole-number weights they agree.

Charges. The worker (after the sacct import) charges every finished allocation of a
project that ran (elapsed > 0) and ended after the project joined the portal: one
WalletTransaction per Slurm job id, UNIQUE in the database. Charges are committed in
batches; a crash mid-batch loses the whole uncommitted batch, which the next run charges
again, and a job already charged is never charged twice (the anti-join skips it; a
concurrent worker's duplicate fails the UNIQUE key and is dropped).

Budget in Slurm. A project with its own QOS (p_<account>) gets Flags=NoDecay and
GrpTRESMins=billing=<limit> on it, with

    limit = baseline + minutes(top-ups − charges of jobs that ran outside this QOS)

where `baseline` is the QOS usage that is not the wallet's business. It is fixed the
first time (and again after slurmctld's usage went backwards, i.e. was reset) so that
limit = usage so far + minutes(balance). From then on the limit moves only with money:
Slurm itself subtracts what jobs in the QOS use (running jobs included, which the portal
charges only when they end), so the portal does not subtract those charges a second time.
With AccountingStorageEnforce=safe a job starts only when its whole time limit × billing
fits in what is left, so a project with little money left may have jobs waiting
(QOSGrpBillingMinutes) that would in fact end in time: ask for less time, or top up.

Projects without a project QOS (adopted ones such as the demo accounts) have a balance and
charges, but Slurm does not enforce their budget: the wallet page says so. Enforcement is
on when `WALLET_ENFORCE` is true; unset, it is on except under TESTING (so tests of other
features are not blocked by an empty wallet).
"""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, and_, case, cast, func, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from adapters.errors import AdapterError
from portal import db
from portal.models import AccountingRecord, Project, User
from portal.models.wallet import (
    CHARGE,
    KINDS,
    SERVICES,
    TOPUP,
    WalletBudget,
    WalletTransaction,
)
from portal.services import Forbidden, ServiceError, audit
from portal.services import projects as project_service
from portal.services.dates import parse_day
from portal.services.prices import billing_scale  # the one scale (prices → weights)

log = logging.getLogger(__name__)

CENT = Decimal("0.01")
PLACES = Decimal("0.0001")
MAX_TOPUP = Decimal("1000000000")
SHOWN_ROWS = 500


# -- money and billing ----------------------------------------------------------------


def cost_of(billing: int, elapsed_s: int) -> Decimal:
    """What a finished allocation costs: billing × elapsed_s / 3600 / SCALE (4 places)."""
    raw = Decimal(int(billing or 0)) * Decimal(int(elapsed_s or 0))
    return (raw / Decimal(3600) / billing_scale()).quantize(PLACES, ROUND_HALF_UP)


def money_to_minutes(amount: Decimal) -> int:
    """Money as Slurm billing-minutes (rounded down; negative amounts stay negative)."""
    minutes = Decimal(amount) * billing_scale() * 60
    return int(minutes.to_integral_value(ROUND_FLOOR))


def minutes_to_money(minutes: int) -> Decimal:
    return (Decimal(int(minutes)) / 60 / billing_scale()).quantize(PLACES, ROUND_HALF_UP)


def parse_amount(value: object) -> Decimal:
    """A top-up amount: a positive number with at most 2 decimals, at most 1e9.

    Raises ServiceError("invalid_amount") for anything else (text, negative, zero, NaN)."""
    text = str(value if value is not None else "").strip().replace(",", "")
    try:
        amount = Decimal(text) if text.isascii() else None
    except (InvalidOperation, ValueError):
        amount = None
    if amount is None or not amount.is_finite() or isinstance(value, bool):
        raise ServiceError(_l("The amount must be a number, for example 100 or 12.50."),
                           "invalid_amount")
    if amount <= 0:
        raise ServiceError(_l("A top-up must be a positive amount."), "invalid_amount")
    if amount > MAX_TOPUP:
        raise ServiceError(_l("A top-up may be at most 1,000,000,000."), "invalid_amount")
    if amount != amount.quantize(CENT):
        raise ServiceError(_l("Amounts have at most two decimals."), "invalid_amount")
    return amount.quantize(CENT)


def enforcing() -> bool:
    value = current_app.config.get("WALLET_ENFORCE")
    if value is None:
        return not current_app.testing
    return str(value).lower() not in ("0", "false", "no", "off", "")


# -- reading --------------------------------------------------------------------------


def get_project(user, project_id: int) -> Project:
    """The project whose wallet `user` may see (members and admins). Raises NotFound."""
    return project_service.get_project(user, project_id)


def visible_projects(user) -> list[Project]:
    return project_service.visible_projects(user)


def balance(project_id: int) -> Decimal:
    total = db.session.scalar(select(func.coalesce(func.sum(WalletTransaction.amount), 0))
                              .where(WalletTransaction.project_id == project_id))
    return Decimal(total or 0).quantize(PLACES)


def balances(project_ids: list[int]) -> dict[int, Decimal]:
    rows = db.session.execute(
        select(WalletTransaction.project_id, func.sum(WalletTransaction.amount))
        .where(WalletTransaction.project_id.in_(project_ids))
        .group_by(WalletTransaction.project_id))
    found = {pid: Decimal(total or 0).quantize(PLACES) for pid, total in rows}
    return {pid: found.get(pid, Decimal(0).quantize(PLACES)) for pid in project_ids}


@dataclass
class Filters:
    start: date | None = None
    end: date | None = None  # inclusive
    kind: str = ""
    service: str = ""

    def as_args(self) -> dict:
        return {"from": self.start.isoformat() if self.start else "",
                "to": self.end.isoformat() if self.end else "",
                "type": self.kind, "service": self.service}


def parse_filters(args) -> Filters:
    """Filters from query arguments `from`, `to` (YYYY-MM-DD, inclusive), `type`
    (topup|charge) and `service` (session|job|schedule|shell). Raises ServiceError."""
    start, end = parse_day(args.get("from"), _l("From")), parse_day(args.get("to"), _l("To"))
    if start and end and start > end:
        raise ServiceError(_l("The start date is after the end date."), "invalid_range")
    kind = str(args.get("type") or "").strip()
    if kind and kind not in KINDS:
        raise ServiceError(_l("The type is top-up or charge."), "invalid_type")
    service = str(args.get("service") or "").strip()
    if service and service not in SERVICES:
        raise ServiceError(_l("The service is session, job, schedule or shell."),
                           "invalid_service")
    return Filters(start, end, kind, service)


@dataclass
class Listing:
    rows: list[WalletTransaction] = field(default_factory=list)
    count: int = 0
    topups: Decimal = Decimal(0)
    charges: Decimal = Decimal(0)  # a positive figure: what was spent
    truncated: bool = False


def _conditions(project_id: int, filters: Filters) -> list:
    where = [WalletTransaction.project_id == project_id]
    if filters.start:
        where.append(WalletTransaction.occurred_at >= datetime.combine(filters.start, time()))
    if filters.end:
        where.append(WalletTransaction.occurred_at
                     < datetime.combine(filters.end + timedelta(days=1), time()))
    if filters.kind:
        where.append(WalletTransaction.kind == filters.kind)
    if filters.service:
        where.append(WalletTransaction.service == filters.service)
    return where


def transactions(project: Project, filters: Filters, limit: int = SHOWN_ROWS) -> Listing:
    """The project's transactions matching `filters`, newest first (at most `limit` rows),
    with the count and sums over all that match."""
    where = _conditions(project.id, filters)
    count, topups, charges = db.session.execute(
        select(func.count(WalletTransaction.id),
               func.coalesce(func.sum(case((WalletTransaction.kind == TOPUP,
                                            WalletTransaction.amount), else_=0)), 0),
               func.coalesce(func.sum(case((WalletTransaction.kind == CHARGE,
                                            WalletTransaction.amount), else_=0)), 0))
        .where(*where)).one()
    rows = list(db.session.scalars(
        select(WalletTransaction).where(*where)
        .order_by(WalletTransaction.occurred_at.desc(), WalletTransaction.id.desc())
        .limit(limit)))
    return Listing(rows, count, Decimal(topups).quantize(PLACES),
                   (-Decimal(charges)).quantize(PLACES), count > len(rows))


# -- top-ups --------------------------------------------------------------------------


def top_up(actor, project_id: int, amount: object, note: str = "") -> WalletTransaction:
    """Admins: add money to a project's wallet, then raise its Slurm budget.

    Raises Forbidden (not an admin), NotFound, ServiceError("invalid_amount"). The top-up
    is recorded even when Slurm does not answer; the worker then sets the budget later.
    """
    if not actor.is_admin:
        raise Forbidden(_l("Only platform administrators top up wallets."))
    project = project_service.get_project(actor, project_id)
    value = parse_amount(amount)
    note = str(note or "").strip()[:500]
    tx = WalletTransaction(
        project_id=project.id, account=project.account, kind=TOPUP, amount=value,
        occurred_at=db.utcnow(), created_by_id=getattr(actor, "id", None), note=note)
    db.session.add(tx)
    audit.record("wallet.topup", project.account,
                 actor=actor if getattr(actor, "id", None) else None, commit=False,
                 amount=str(value), note=note)
    db.session.commit()
    if enforcing() and project.qos_name:
        try:
            sync_budget(project)
        except AdapterError as exc:  # recorded on the budget row; the worker retries
            log.warning("wallet: budget of %s not synced: %s", project.account, exc.message)
    return tx


# -- charges --------------------------------------------------------------------------


def _order_ids(job_ids: list[str]) -> dict[str, int]:
    """Slurm job id → order id: every portal session, job and scheduled run has one."""
    from portal.services.orders import orders_by_slurm_id

    return orders_by_slurm_id(job_ids)


def _crash_hook(before: int, after: int) -> None:
    """Tests of crash safety: with WALLET_TEST_CRASH_AFTER=N (env
    PORTAL_WALLET_TEST_CRASH_AFTER), SIGKILL this process once the batch holding the N-th
    charge of this run is inserted but not yet committed."""
    crash_at = current_app.config.get("WALLET_TEST_CRASH_AFTER")
    if crash_at and before < int(crash_at) <= after:
        os.kill(os.getpid(), signal.SIGKILL)


def _uncharged(batch: int, after_id: int):
    return (
        select(AccountingRecord, Project.id)
        .join(Project, Project.account == AccountingRecord.account)
        .outerjoin(WalletTransaction, WalletTransaction.job_id == AccountingRecord.job_id)
        .where(WalletTransaction.id.is_(None), AccountingRecord.end_at.is_not(None),
               AccountingRecord.elapsed_s > 0, AccountingRecord.end_at >= Project.created_at,
               AccountingRecord.id > after_id)
        .order_by(AccountingRecord.id)
        .limit(batch)
    )


FULL_SCAN_EVERY = 30  # cycles


def charge_finished(batch: int | None = None) -> int:
    """Charge every finished, not yet charged allocation of a project. Returns how many.

    A long-running worker remembers (in memory only) the newest accounting row it has
    handled, so an idle cycle looks at new rows only; the first run of a process, and
    every FULL_SCAN_EVERY-th, scans the whole table (the anti-join is what guarantees
    exactly-once; the cursor only saves time).
    """
    batch = int(batch or current_app.config.get("WALLET_CHARGE_BATCH") or 500)
    state = current_app.extensions.setdefault("wallet_cursor", {"after": 0, "runs": 0})
    state["runs"] += 1
    if state["runs"] % FULL_SCAN_EVERY == 1:
        state["after"] = 0
    newest = db.session.scalar(select(func.max(AccountingRecord.id))) or 0
    charged, after_id = 0, state["after"]
    while True:
        found = db.session.execute(_uncharged(batch, after_id)).all()
        if not found:
            state["after"] = max(state["after"], newest)
            return charged
        after_id = found[-1][0].id
        orders = _order_ids([record.job_id for record, _pid in found])
        rows = [_charge_values(record, project_id, orders.get(record.job_id))
                for record, project_id in found]
        try:
            db.session.execute(insert(WalletTransaction), rows)
            _crash_hook(charged, charged + len(rows))  # inserted, not yet committed
            charged += len(rows)
            db.session.commit()
        except IntegrityError:  # another worker charged some of them meanwhile
            db.session.rollback()
            charged += _charge_one_by_one(found)


def _charge_values(record: AccountingRecord, project_id: int, order_id: int | None) -> dict:
    return {
        "project_id": project_id, "account": record.account, "kind": CHARGE,
        "amount": -cost_of(record.billing, record.elapsed_s), "occurred_at": record.end_at,
        "created_at": db.utcnow(), "job_id": record.job_id,
        "service": record.service if record.service in SERVICES else "shell",
        "user": record.user or "", "qos": record.qos or "", "billing": record.billing or 0,
        "elapsed_s": record.elapsed_s or 0, "order_id": order_id, "note": ""}


def _charge(record: AccountingRecord, project_id: int, order_id: int | None):
    return WalletTransaction(**_charge_values(record, project_id, order_id))


def _charge_one_by_one(found) -> int:
    done = 0
    orders = _order_ids([record.job_id for record, _pid in found])
    for record, project_id in found:
        try:
            db.session.add(_charge(record, project_id, orders.get(record.job_id)))
            db.session.commit()
            done += 1
        except IntegrityError:
            db.session.rollback()
    return done


# -- the budget in Slurm --------------------------------------------------------------


def get_budget_adapter():
    """`app.extensions["budget"]` when set (tests), else scontrol/sacctmgr as the operator."""
    if "budget" in current_app.extensions:
        return current_app.extensions["budget"]
    from adapters import factory

    return factory.make_budget(current_app.config)


def budget_minutes(project: Project) -> int:
    """Billing-minutes the wallet grants on top of the baseline: top-ups, less what jobs
    that ran outside the project QOS used (Slurm's QOS usage does not count those)."""
    topups, other = db.session.execute(
        select(func.coalesce(func.sum(case((WalletTransaction.kind == TOPUP,
                                            WalletTransaction.amount), else_=0)), 0),
               func.coalesce(func.sum(case((and_(WalletTransaction.kind == CHARGE,
                                                 WalletTransaction.qos != project.qos_name),
                                            cast(WalletTransaction.billing, BigInteger)
                                            * WalletTransaction.elapsed_s), else_=0)), 0))
        .where(WalletTransaction.project_id == project.id)).one()
    minutes = Decimal(topups) * billing_scale() * 60 - Decimal(int(other)) / 60
    return int(minutes.to_integral_value(ROUND_FLOOR))


def desired_limit(project: Project, baseline: int) -> int:
    return max(0, baseline + budget_minutes(project))


def sync_budget(project: Project, known=None) -> WalletBudget | None:
    """Make the project QOS's GrpTRESMins=billing match the wallet (see the module doc).

    `known` is the adapter's reading of every QOS (one scontrol call per cycle), else the
    QOS is read now. Returns the budget row; None for a project without a QOS. Raises
    AdapterError when Slurm does not answer (also recorded on the row).
    """
    if not project.qos_name:
        return None
    adapter = get_budget_adapter()
    row = db.session.scalar(select(WalletBudget).where(WalletBudget.project_id == project.id))
    fresh = row is None or row.qos != project.qos_name or row.limit_minutes is None
    try:
        reading = known.get(project.qos_name) if known is not None else adapter.read(
            project.qos_name)
        if reading is None:
            row = row or _new_budget(project)
            row.error = f"QOS {project.qos_name} is not known to slurmctld"
            db.session.commit()
            return row
        # Everything is computed before the row changes and sacctmgr runs: a change
        # flushed by the queries below would hold the database's write lock while it runs
        # (issue #13).
        baseline = row.baseline_minutes if row is not None else 0
        if fresh or reading.used_minutes < (row.used_minutes or 0):
            # First sync, or slurmctld's usage was reset: limit = used + balance.
            baseline = (reading.used_minutes + money_to_minutes(balance(project.id))
                        - budget_minutes(project))
        limit = desired_limit(project, baseline)
        if reading.limit_minutes != limit or fresh:
            adapter.set_limit(project.qos_name, limit)
            log.info("wallet: %s GrpTRESMins=billing=%d (used %d)", project.qos_name, limit,
                     reading.used_minutes)
        row = row or _new_budget(project)
        row.baseline_minutes, row.qos = baseline, project.qos_name
        row.limit_minutes, row.used_minutes = limit, reading.used_minutes
        row.synced_at, row.error = db.utcnow(), ""
        db.session.commit()
        return row
    except AdapterError as exc:
        db.session.rollback()
        _record_error(project.id, project.qos_name, exc.message)
        raise


def _new_budget(project: Project) -> WalletBudget:
    row = WalletBudget(project_id=project.id, qos=project.qos_name, baseline_minutes=0,
                       used_minutes=0, error="")
    db.session.add(row)
    return row


def _record_error(project_id: int, qos: str, message: str) -> None:
    row = db.session.scalar(select(WalletBudget).where(WalletBudget.project_id == project_id))
    if row is None:
        row = WalletBudget(project_id=project_id, qos=qos, baseline_minutes=0, used_minutes=0)
        db.session.add(row)
    row.error = message[:500]
    db.session.commit()


def sync_budgets() -> dict:
    """Every project with a QOS: one scontrol call, a sacctmgr call only where it drifted."""
    projects = list(db.session.scalars(select(Project).where(Project.qos_name.is_not(None))))
    if not projects:
        return {"wallet_synced": 0}
    adapter = get_budget_adapter()
    try:
        known = adapter.read_all()
    except AdapterError as exc:
        log.warning("wallet: cannot read QOS usage: %s", exc.message)
        return {"wallet_synced": 0, "wallet_error": exc.message}
    synced, errors = 0, 0
    for project in projects:
        try:
            sync_budget(project, known)
            synced += 1
        except AdapterError as exc:
            errors += 1
            log.warning("wallet: %s not synced: %s", project.qos_name, exc.message)
    return {"wallet_synced": synced, "wallet_sync_errors": errors}


def worker_step() -> dict:
    """Charge what finished, then keep the Slurm budgets in line (when enforcing). Never
    raises for the database or Slurm: the summary says what failed, the next cycle retries."""
    try:
        summary = {"wallet_charged": charge_finished()}
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.error("wallet: charging failed: %s", exc)
        return {"wallet_charged": 0, "wallet_error": str(exc)[:200]}
    if enforcing():
        try:
            summary.update(sync_budgets())
        except SQLAlchemyError as exc:
            db.session.rollback()
            log.error("wallet: budget sync failed: %s", exc)
            summary["wallet_error"] = str(exc)[:200]
    return summary


# -- what a page shows ----------------------------------------------------------------


@dataclass
class BudgetView:
    enforced: bool
    why_not: str = ""
    limit_minutes: int | None = None
    used_minutes: int | None = None
    synced_at: datetime | None = None
    error: str = ""

    @property
    def left_minutes(self) -> int | None:
        if self.limit_minutes is None or self.used_minutes is None:
            return None
        return max(0, self.limit_minutes - self.used_minutes)

    @property
    def left_money(self) -> Decimal | None:
        left = self.left_minutes
        return None if left is None else minutes_to_money(left)

    def as_dict(self) -> dict:
        return {"enforced": self.enforced, "why_not": str(self.why_not) or None,
                "limit_billing_minutes": self.limit_minutes,
                "used_billing_minutes": self.used_minutes,
                "left_billing_minutes": self.left_minutes,
                "left": str(self.left_money) if self.left_money is not None else None,
                "synced_at": self.synced_at.isoformat() + "Z" if self.synced_at else None,
                "error": self.error or None}


def budget_view(project: Project) -> BudgetView:
    if not project.qos_name:
        return BudgetView(False, _l("This project has no project QOS in Slurm (it was "
                                    "adopted), so Slurm does not enforce its budget; "
                                    "the balance is kept all the same."))
    if not enforcing():
        return BudgetView(False, _l("Budget enforcement is switched off on this portal "
                                    "(WALLET_ENFORCE)."))
    row = db.session.scalar(select(WalletBudget).where(WalletBudget.project_id == project.id))
    if row is None:
        return BudgetView(True, error=_l("Not yet set in Slurm; the worker sets it shortly."))
    return BudgetView(True, "", row.limit_minutes, row.used_minutes, row.synced_at, row.error)


def waiting_for_budget(project: Project) -> list[dict]:
    """The project's jobs that Slurm keeps pending for its budget (worker's cached queue)."""
    from portal.services import project_usage as pu

    jobs, _taken = pu.cached_jobs()
    return [j for j in jobs if j.get("account") == project.account
            and (j.get("reason") or "").endswith("GrpBillingMinutes")]


def created_by_name(tx: WalletTransaction) -> str:
    user = db.session.get(User, tx.created_by_id) if tx.created_by_id else None
    return user.username if user else ""
