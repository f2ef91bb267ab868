"""Cost analysis (F11): spending per week, month or year, by project, user, GPU model or
service type, from the imported accounting records (portal.services.accounting_import).

The cost definition (the same as the wallet's charges, see portal.services.prices):

    cost of a finished allocation = billing × elapsed_s / 3600 / SCALE

`billing` is sacct's AllocTRES billing= (Slurm's weighted TRES sum, with the weights —
the prices × SCALE — in force when the job started); SCALE = BILLING_UNITS_PER_CURRENCY
(default 100: a weight is the hourly price in cents). A job counts in the period in which
it ENDED (when the wallet charges it), in UTC. Totals here are exact sums,
Σ(billing × elapsed_s) / 3600 / SCALE, shown to 4 decimals; the wallet rounds each charge to
4 decimals, so the two can differ by < 0.0001 per job.

Who sees what: admins every account (including work submitted around the portal to
accounts that are not portal projects); everyone else the projects they belong to
(members and managers alike). Aggregation is one SQL GROUP BY over the end-time index, so
a year of 200,000 records is answered in well under a second (bench/cost_analysis.py).
Ranges: at most MAX_DAYS; a reversed range is refused with a clear message.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import DateTime, String, and_, cast, func, literal, literal_column, select

from portal import db
from portal.models import AccountingRecord
from portal.services import ServiceError
from portal.services import projects as project_service
from portal.services.dates import parse_day
from portal.services.prices import billing_scale

PERIODS = ("week", "month", "year")
GROUPS = ("project", "user", "gpu_model", "service")
SERVICES = ("session", "job", "schedule", "shell")
MAX_DAYS = 366 * 20
SCAN_DAYS = 62  # longer ranges scan the table, not the end-time index (SQLite)
CHART_KEYS = 10  # the chart shows the biggest keys; the rest are summed as "others"
TABLE_ROWS = 1000  # the page's details table; the CSV export has every row
PLACES = Decimal("0.0001")
HOURS = Decimal("0.01")
NO_GPU = ""  # the gpu_model key of CPU-only work


@dataclass(frozen=True)
class CostQuery:
    start: date
    end: date  # inclusive
    period: str = "month"
    group: str = "project"
    project: str = ""  # a Slurm account, or "" for all visible
    service: str = ""  # one of SERVICES, or ""

    def as_args(self) -> dict:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(),
                "period": self.period, "by": self.group, "project": self.project,
                "service": self.service}


def parse_query(args, today: date | None = None) -> CostQuery:
    """Filters from a query string (or a dict). Defaults: the last 12 months, by month and
    project. Raises ServiceError for a bad date, a reversed or too long range, an unknown
    period, grouping or service."""
    today = today or db.utcnow().date()
    end = parse_day(args.get("to"), _l("The end date")) or today
    start = parse_day(args.get("from"), _l("The start date")) or \
        (end.replace(day=1) - timedelta(days=334)).replace(day=1)
    if start > end:
        raise ServiceError(_l("The start date is after the end date: swap them."),
                           "reversed_range")
    if (end - start).days > MAX_DAYS:
        raise ServiceError(_l("A range may span at most 20 years."), "range_too_long")
    period = str(args.get("period") or "month")
    if period not in PERIODS:
        raise ServiceError(_l("The period is week, month or year."), "invalid_period")
    group = str(args.get("by") or "project")
    if group not in GROUPS:
        raise ServiceError(_l("Group by project, user, gpu_model or service."), "invalid_group")
    service = str(args.get("service") or "")
    if service and service not in SERVICES:
        raise ServiceError(_l("The service type is session, job, schedule or shell."),
                           "invalid_service")
    project = str(args.get("project") or "").strip()
    return CostQuery(start, end, period, group, project[:64], service)


def _bucket(period: str):
    """SQL for the period a record's end time falls in, as text ("2026-11", "2026",
    "2026-11-23" = the Monday of its ISO week)."""
    col = AccountingRecord.end_at
    if db.session.get_bind().dialect.name == "postgresql":
        fmt = {"week": "YYYY-MM-DD", "month": "YYYY-MM", "year": "YYYY"}[period]
        base = func.date_trunc("week", col) if period == "week" else col
        return func.to_char(base, fmt)
    if period == "week":  # SQLite: back to Monday ("weekday 1" is the next Monday)
        return func.date(col, "-6 days", "weekday 1")
    # SQLite keeps datetimes as "YYYY-MM-DD HH:MM:SS…" text: a prefix is the month/year,
    # and far cheaper than strftime() on every row.
    return func.substr(col, literal_column("1"), literal_column("7" if period == "month" else "4"))


def _group_col(group: str):
    return {
        "project": AccountingRecord.account,
        "user": AccountingRecord.user,
        "gpu_model": func.coalesce(AccountingRecord.gpu_model, literal(NO_GPU, String)),
        "service": AccountingRecord.service,
    }[group]


def visible_accounts(user) -> list[str] | None:
    """None: every account (admins); else the accounts of the user's projects."""
    if user.is_admin:
        return None
    return sorted(p.account for p in project_service.visible_projects(user))


@dataclass
class CostReport:
    query: CostQuery
    rows: list[dict] = field(default_factory=list)  # period, key, cost, jobs, hours
    periods: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    by_key: dict[str, Decimal] = field(default_factory=dict)
    by_period: dict[str, Decimal] = field(default_factory=dict)
    total: Decimal = Decimal(0)
    jobs: int = 0
    accounts: list[str] | None = None  # what the user may pick from (None: admin, any)

    def as_dict(self) -> dict:
        return {
            "query": self.query.as_args(),
            "definition": "cost = billing × elapsed_s / 3600 / scale, by end time (UTC)",
            "scale": str(billing_scale()),
            "total": str(self.total), "jobs": self.jobs,
            "periods": self.periods, "keys": self.keys,
            "by_key": {k: str(v) for k, v in self.by_key.items()},
            "by_period": {k: str(v) for k, v in self.by_period.items()},
            "rows": [{**r, "cost": str(r["cost"]), "gpu_hours": str(r["gpu_hours"]),
                      "cpu_hours": str(r["cpu_hours"])} for r in self.rows],
        }

    def chart(self, others: str = "others") -> dict:
        """Chart.js data: a stacked bar per period (one dataset per key, the CHART_KEYS
        biggest; the rest summed under `others`) and the totals by key."""
        shown = self.keys[:CHART_KEYS]
        rest = set(self.keys[CHART_KEYS:])
        cell: dict[tuple[str, str], float] = {}
        for r in self.rows:
            key = others if r["key"] in rest else r["key"]
            cell[(r["period"], key)] = cell.get((r["period"], key), 0.0) + float(r["cost"])
        labels = shown + ([others] if rest else [])
        totals = [float(self.by_key[k]) for k in shown]
        if rest:
            totals.append(float(sum(self.by_key[k] for k in rest)))
        axis = timeline(self.query)  # periods without spending are drawn empty
        return {
            "labels": axis,
            "datasets": [{"label": key or "—", "data": [round(cell.get((p, key), 0.0), 4)
                                                        for p in axis]}
                         for key in labels],
            "totals": {"labels": [k or "—" for k in labels], "data": totals},
        }


def report(user, query: CostQuery) -> CostReport:
    """The spending `user` may see, aggregated in SQL (one GROUP BY)."""
    accounts = visible_accounts(user)
    if query.project:
        if accounts is not None and query.project not in accounts:
            raise ServiceError(_l("No such project."), "not_found", 404)
        accounts = [query.project]
    out = CostReport(query=query, accounts=visible_accounts(user))
    if accounts is not None and not accounts:
        return out
    bucket = _bucket(query.period).label("period")
    key = _group_col(query.group).label("key")
    rec = AccountingRecord
    start = datetime.combine(query.start, datetime.min.time())
    end = datetime.combine(query.end + timedelta(days=1), datetime.min.time())
    end_at = rec.end_at
    if (query.end - query.start).days > SCAN_DAYS and \
            db.session.get_bind().dialect.name == "sqlite":
        # Over a long range most rows match: one pass over the table beats the end-time
        # index (a lookup per row) several times over. A unary + keeps SQLite off the
        # index; PostgreSQL's planner decides by itself.
        end_at = literal_column("+accounting_records.end_at", DateTime())
    where = [end_at >= start, end_at < end]
    if accounts is not None:
        where.append(rec.account.in_(accounts))
    if query.service:
        where.append(rec.service == query.service)
    stmt = (
        select(bucket, key,
               func.sum(cast(rec.billing, db_bigint()) * rec.elapsed_s).label("units"),
               func.count().label("jobs"),
               func.sum(cast(rec.alloc_gpus, db_bigint()) * rec.elapsed_s).label("gpu_s"),
               func.sum(cast(rec.alloc_cpus, db_bigint()) * rec.elapsed_s).label("cpu_s"))
        .where(and_(*where))
        .group_by(bucket, key)
        .order_by(bucket, key)
    )
    divisor = Decimal(3600) * billing_scale()

    def money(units: int) -> Decimal:
        return (Decimal(units) / divisor).quantize(PLACES, ROUND_HALF_UP)

    by_key: dict[str, int] = {}
    by_period: dict[str, int] = {}
    total = 0
    for period, k, units, jobs, gpu_s, cpu_s in db.session.execute(stmt):
        period, k, units = str(period), str(k if k is not None else ""), int(units or 0)
        out.rows.append({"period": period, "key": k, "cost": money(units), "jobs": int(jobs),
                         "gpu_hours": _hours(gpu_s), "cpu_hours": _hours(cpu_s)})
        by_key[k] = by_key.get(k, 0) + units
        by_period[period] = by_period.get(period, 0) + units
        total += units
        out.jobs += int(jobs)
    out.periods = sorted(by_period)
    out.keys = sorted(by_key, key=lambda k: (-by_key[k], k))
    out.by_key = {k: money(by_key[k]) for k in out.keys}
    out.by_period = {p: money(by_period[p]) for p in out.periods}
    out.total = money(total)
    return out


def timeline(query: CostQuery) -> list[str]:
    """Every period label from the query's start to its end, as `_bucket` spells them."""
    out = []
    if query.period == "year":
        return [str(y) for y in range(query.start.year, query.end.year + 1)]
    if query.period == "month":
        y, m = query.start.year, query.start.month
        while (y, m) <= (query.end.year, query.end.month):
            out.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out
    day = query.start - timedelta(days=query.start.weekday())
    while day <= query.end:
        out.append(day.isoformat())
        day += timedelta(days=7)
    return out


def _hours(seconds) -> Decimal:
    return (Decimal(int(seconds or 0)) / 3600).quantize(HOURS, ROUND_HALF_UP)


def db_bigint():
    from sqlalchemy import BigInteger

    return BigInteger()


def to_csv(rep: CostReport) -> str:
    """The report's rows as CSV (one line per period × key)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["period", rep.query.group, "cost", "jobs", "gpu_hours", "cpu_hours"])
    for r in rep.rows:
        key = r["key"]
        if key[:1] in ("=", "+", "-", "@"):  # no formulas when opened in a spreadsheet
            key = "'" + key
        writer.writerow([r["period"], key, r["cost"], r["jobs"], r["gpu_hours"],
                         r["cpu_hours"]])
    return buf.getvalue()
