"""The operation log's views (F11): filters, pages and CSV export of audit events.

Users see their own events (actor = them), admins see everyone's. Filters: a time range
(`from`/`to`: a date, inclusive, or an ISO date-time, UTC), actor name (admins), action
(exact, or a prefix ending in "." such as "session."), text (in the target or details) and
source IP (exact or prefix ending in "." or ":"). A reversed range is refused with a clear
message; a long range (ten years) is fine: the `at` index and paging keep it fast.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, cast, func, select

from portal import db
from portal.models import AuditEvent
from portal.services import ServiceError

PER_PAGE = 50
MAX_PER_PAGE = 500
EXPORT_LIMIT = 100_000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Filters:
    start: datetime | None = None
    end: datetime | None = None  # exclusive
    actor: str = ""
    action: str = ""
    text: str = ""
    ip: str = ""

    def as_args(self) -> dict:
        return {k: v for k, v in {"actor": self.actor, "action": self.action,
                                  "q": self.text, "ip": self.ip}.items() if v}


def _parse_time(raw: str, label, *, end: bool) -> datetime | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = datetime.strptime(raw, "%Y-%m-%d")
            return day + timedelta(days=1) if end else day
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ServiceError(
            _l("%(field)s is not a date (YYYY-MM-DD) or date-time.", field=label),
            "invalid_date") from None
    if value.tzinfo is not None:  # stored times are naive UTC
        value = (value - value.utcoffset()).replace(tzinfo=None)
    return value


def parse_filters(args: Mapping) -> Filters:
    """Filters from query arguments. Raises ServiceError invalid_date / invalid_range."""
    start = _parse_time(args.get("from", ""), _l("From"), end=False)
    end = _parse_time(args.get("to", ""), _l("To"), end=True)
    if start and end and end <= start:
        raise ServiceError(_l("The time range is reversed: 'from' must be before 'to'."),
                           "invalid_range")

    def text(key: str, limit: int) -> str:
        return str(args.get(key, "") or "").strip()[:limit]

    return Filters(start, end, text("actor", 64), text("action", 64), text("q", 200),
                   text("ip", 45))


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def query(user, filters: Filters):
    stmt = select(AuditEvent)
    if not user.is_admin:
        stmt = stmt.where(AuditEvent.actor_id == user.id)
    elif filters.actor:
        stmt = stmt.where(AuditEvent.actor_name == filters.actor)
    if filters.start:
        stmt = stmt.where(AuditEvent.at >= filters.start)
    if filters.end:
        stmt = stmt.where(AuditEvent.at < filters.end)
    if filters.action:
        if filters.action.endswith("."):
            stmt = stmt.where(AuditEvent.action.startswith(filters.action, autoescape=True))
        else:
            stmt = stmt.where(AuditEvent.action == filters.action)
    if filters.ip:
        if filters.ip[-1] in ".:":
            stmt = stmt.where(AuditEvent.source_ip.startswith(filters.ip, autoescape=True))
        else:
            stmt = stmt.where(AuditEvent.source_ip == filters.ip)
    if filters.text:
        pattern = _like(filters.text.lower())
        stmt = stmt.where(
            func.lower(AuditEvent.target).like(pattern, escape="\\")
            | func.lower(cast(AuditEvent.details, String)).like(pattern, escape="\\")
        )
    return stmt


@dataclass
class Page:
    events: list
    page: int
    per_page: int
    has_next: bool


def page_of(user, filters: Filters, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """Newest first; one extra row tells whether there is a next page (no COUNT(*))."""
    page = max(1, int(page or 1))
    per_page = min(max(1, int(per_page or PER_PAGE)), MAX_PER_PAGE)
    stmt = (query(user, filters).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .offset((page - 1) * per_page).limit(per_page + 1))
    rows = list(db.session.scalars(stmt))
    return Page(rows[:per_page], page, per_page, len(rows) > per_page)


def actions(user) -> list[str]:
    stmt = select(AuditEvent.action).distinct().order_by(AuditEvent.action)
    if not user.is_admin:
        stmt = stmt.where(AuditEvent.actor_id == user.id)
    return list(db.session.scalars(stmt))


def event_json(event: AuditEvent) -> dict:
    return {"id": event.id, "at": event.at.isoformat() + "Z", "actor": event.actor_name,
            "source_ip": event.source_ip, "action": event.action, "target": event.target,
            "details": event.details or {}}


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP: prefix with ')."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


HEADER = ["time_utc", "actor", "source_ip", "action", "target", "details"]


def csv_rows(user, filters: Filters) -> Iterator[str]:
    """The CSV export, a chunk of text per row (header first), oldest last like the page."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(HEADER)
    yield flush()
    stmt = (query(user, filters).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(EXPORT_LIMIT).execution_options(yield_per=1000))
    for event in db.session.scalars(stmt):
        writer.writerow([safe_cell(v) for v in (
            event.at.strftime("%Y-%m-%d %H:%M:%S"), event.actor_name, event.source_ip,
            event.action, event.target,
            json.dumps(event.details or {}, ensure_ascii=False, sort_keys=True))])
        yield flush()
