"""Dates typed by people into filters (orders, costs, wallet): one parser, one message."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l

from portal.services import ServiceError


def parse_day(value: object, label) -> date | None:
    """A YYYY-MM-DD date (a longer ISO timestamp keeps its day); blank is None.
    Raises ServiceError("invalid_date") naming the field `label`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ServiceError(_l("%(label)s is not a date (YYYY-MM-DD).", label=label),
                           "invalid_date") from None
