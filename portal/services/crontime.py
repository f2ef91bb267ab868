"""Cron expressions in IANA timezones: validation, next run times, descriptions (F8).

croniter does the calendar arithmetic on naive wall-clock times; zoneinfo turns each wall
time into real instants, so daylight-saving changes are handled one explicit way:

- a wall time that does not exist (spring forward) runs at the same wall time plus the
  gap, e.g. 02:30 on the night New York skips 02:00–03:00 runs at 03:30 (PEP 495 fold=0);
- a wall time that happens twice (fall back) runs once, at its first occurrence, unless
  the hour field is a wildcard ("every 15 minutes"), which keeps running through both;
- two wall times that land on the same instant run once.

All instants going in and out are naive UTC datetimes, like every column in the database.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterBadCronError, CroniterBadDateError, croniter
from flask_babel import lazy_gettext as _l

from portal.services import ServiceError

MAX_LENGTH = 100
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIELD = re.compile(r"^[0-9A-Za-z*/,\-#L?]+$")
_TZ_NAME = re.compile(r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$")
# Wall-clock shifts are at most a few hours: look this far around a candidate.
_SHIFT = timedelta(hours=3)
_MAX_STEPS = 100_000


def normalize_cron(expression: str) -> str:
    """The expression as five space-separated fields (macros expanded).

    Raises ServiceError("invalid_cron") for anything croniter would not read as a
    standard five-field cron line, or one that never fires.
    """
    text = " ".join(str(expression or "").split())
    if not text or len(text) > MAX_LENGTH or not text.isascii():
        raise _bad_cron()
    text = MACROS.get(text.lower(), text)
    fields = text.split(" ")
    if len(fields) != 5 or not all(_FIELD.match(f) for f in fields):
        raise _bad_cron()
    try:
        if not croniter.is_valid(text):
            raise _bad_cron()
        croniter(text, datetime(2000, 1, 1)).get_next(datetime)
    except (CroniterBadCronError, CroniterBadDateError, ValueError, KeyError, OverflowError):
        raise _bad_cron() from None
    return text


def _bad_cron() -> ServiceError:
    return ServiceError(
        _l(
            "Not a valid cron expression: give five fields (minute hour day-of-month month "
            "day-of-week), e.g. \"0 20 * * *\" for every day at 20:00."
        ),
        "invalid_cron",
    )


def zone(name: str) -> ZoneInfo:
    """The IANA timezone `name`. Raises ServiceError("invalid_timezone")."""
    text = str(name or "").strip()
    if not _TZ_NAME.match(text) or len(text) > 64 or text not in _zone_names():
        raise ServiceError(
            _l("Unknown timezone %(name)s: use an IANA name such as Asia/Taipei.",
               name=text[:64]),
            "invalid_timezone",
        )
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ServiceError(_l("Unknown timezone."), "invalid_timezone") from None


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def timezone_names() -> list[str]:
    """Every IANA name this host knows, sorted (for the form's suggestions)."""
    return sorted(n for n in _zone_names() if "/" in n or n == "UTC")


def to_utc(value: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall time in `tz` (or an aware datetime) as a naive UTC instant."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC).replace(tzinfo=None)


def to_local(instant: datetime, tz: ZoneInfo) -> datetime:
    """A naive UTC instant as an aware datetime in `tz`."""
    return instant.replace(tzinfo=UTC).astimezone(tz)


def _instants(wall: datetime, tz: ZoneInfo, hour_wildcard: bool) -> list[datetime]:
    """The real instants (naive UTC) at which wall time `wall` in `tz` should fire."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    out = [first.replace(tzinfo=None)]
    if second != first and hour_wildcard:
        exists = second.astimezone(tz).replace(tzinfo=None) == wall
        if exists:  # an ambiguous wall time: both occurrences are real
            out.append(second.replace(tzinfo=None))
    return out


def next_runs(
    expression: str,
    tz: ZoneInfo,
    after: datetime,
    count: int = 1,
    *,
    until: datetime | None = None,
) -> list[datetime]:
    """Up to `count` fire times (naive UTC) strictly after `after` (naive UTC).

    Times after `until` (naive UTC) are not returned. `expression` must be normalised.
    """
    hour_wildcard = "*" in expression.split(" ")[1]
    start_wall = to_local(after, tz).replace(tzinfo=None) - _SHIFT
    it = croniter(expression, start_wall)
    found: set[datetime] = set()
    for _ in range(_MAX_STEPS):
        try:
            wall = it.get_next(datetime)
        except (CroniterBadDateError, OverflowError):
            break
        found.update(i for i in _instants(wall, tz, hour_wildcard) if i > after)
        if until is not None and wall - _SHIFT > to_local(until, tz).replace(tzinfo=None):
            break
        if len(found) >= count:
            kth = sorted(found)[count - 1]
            if wall - _SHIFT > to_local(kth, tz).replace(tzinfo=None):
                break
    runs = sorted(t for t in found if until is None or t <= until)
    return runs[:count]


def runs_between(
    expression: str, tz: ZoneInfo, after: datetime, before: datetime, limit: int = 10_000
) -> list[datetime]:
    """Fire times t with after < t < before (naive UTC), at most `limit` of them."""
    runs = next_runs(expression, tz, after, limit, until=before)
    return [t for t in runs if t < before]


@lru_cache(maxsize=512)
def describe(expression: str, locale: str = "en") -> str:
    """The expression in words ("At 20:00"), in English or Traditional Chinese.

    Falls back to the expression itself if the describer cannot read it.
    """
    from cron_descriptor import ExpressionDescriptor, Options

    options = Options()
    options.locale_code = "zh_TW" if str(locale).startswith("zh") else "en_US"
    options.use_24hour_time_format = True
    try:
        return ExpressionDescriptor(expression, options).get_description()
    except Exception:  # noqa: BLE001 - any describer failure: show the raw expression
        return expression
