"""Input rules of projects: Slurm account names, titles, dates and limits.

Pages, API and CLI send raw values (text from forms, JSON numbers, CLI strings); these
functions turn them into clean values or raise ServiceError with a message that says
what is wrong — before anything reaches sacctmgr, which would silently lower-case or
accept names other Slurm tools then trip over.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from flask_babel import lazy_gettext as _l

from portal.services import ServiceError
from portal.services.names import clean_name

# Lower-case letter first; letters, digits, "_" and "-"; short enough that the project
# QOS ("p_" + account) also fits Slurm's 64 characters.
ACCOUNT_RE = re.compile(r"^[a-z][a-z0-9_-]{1,31}$")
RESERVED_ACCOUNTS = frozenset({"root", "all", "none", "default"})
TITLE_MAX = 120
DESCRIPTION_MAX = 2000
# Field → (label, smallest, largest). Anything outside is refused as a typo.
LIMITS: dict[str, tuple[object, int, int]] = {
    "gpu_limit": (_l("GPU quota"), 0, 10_000),
    "cpu_limit": (_l("CPU quota"), 1, 1_000_000),
    "mem_limit_gb": (_l("Memory quota (GB)"), 1, 1_048_576),
    "gpu_per_user": (_l("GPUs per user"), 0, 10_000),
    "max_wall_minutes": (_l("Session time limit (minutes)"), 1, 366 * 24 * 60),
    "idle_reclaim_minutes": (_l("Idle reclaim limit (minutes)"), 5, 30 * 24 * 60),
    # Requests for more GPUs wait for a manager (portal/services/approvals.py).
    "approval_threshold": (_l("Approval threshold (GPUs per request)"), 0, 10_000),
}
EXTENSION_DAYS = (1, 365)


def validate_account(account: object) -> str:
    """The Slurm account name, or ServiceError("invalid_account")."""
    text = account.strip() if isinstance(account, str) else ""
    if not ACCOUNT_RE.fullmatch(text) or text in RESERVED_ACCOUNTS:
        raise ServiceError(
            _l("A Slurm account name is 2–32 characters: lower-case letters, digits, '_' or "
               "'-', starting with a letter (not root). Slurm would change or reject "
               "anything else."),
            "invalid_account",
        )
    return text


def validate_title(name: object) -> str:
    return clean_name(name, TITLE_MAX)


def validate_description(text: object) -> str:
    if text is None:
        return ""
    if not isinstance(text, str) or len(text) > DESCRIPTION_MAX:
        raise ServiceError(
            _l("A description is text of at most %(max)d characters.", max=DESCRIPTION_MAX),
            "invalid_description",
        )
    return text.strip()


def parse_date(value: object, label: object) -> date | None:
    """A date from a date, an ISO "YYYY-MM-DD" string, or blank (None)."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ServiceError(
            _l("%(field)s must be a date like 2025-12-31.", field=label), "invalid_date"
        ) from None


def parse_limit(field: str, value: object) -> int | None:
    """A whole number within LIMITS[field], or None for blank (no limit)."""
    label, low, high = LIMITS[field]
    return parse_whole(value, label, low, high)


def parse_whole(value: object, label: object, low: int, high: int) -> int | None:
    """A whole number in [low, high] from an int, a whole float or digits; blank → None.

    Raises ServiceError("invalid_limit") naming the field.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
        number = None
    elif isinstance(value, int | float):
        number = int(value)
    else:
        text = str(value).strip()
        number = int(text) if text.lstrip("-").isdigit() and text.isascii() else None
    if number is None:
        raise ServiceError(
            _l("%(field)s must be a whole number (or empty for no limit).", field=label),
            "invalid_limit",
        )
    if not low <= number <= high:
        raise ServiceError(
            _l("%(field)s must be between %(low)d and %(high)d.", field=label, low=low,
               high=high),
            "invalid_limit",
        )
    return number


def clean_settings(data: Mapping[str, object], current: Mapping[str, object]) -> dict:
    """The admin-only settings in `data` (keys absent keep `current`), checked together.

    Raises ServiceError for a bad value, an end before the start, or a per-user GPU cap
    above the project's GPU quota.
    """
    out = dict(current)
    for field in LIMITS:
        if field in data:
            out[field] = parse_limit(field, data[field])
    if "start_date" in data:
        out["start_date"] = parse_date(data["start_date"], _l("Start date"))
    if "end_date" in data:
        out["end_date"] = parse_date(data["end_date"], _l("End date"))
    if "members_see_sessions" in data:
        out["members_see_sessions"] = _flag(data["members_see_sessions"])
    start, end = out.get("start_date"), out.get("end_date")
    if start and end and end < start:
        raise ServiceError(_l("The end date is before the start date."), "invalid_date")
    gpus, per_user = out.get("gpu_limit"), out.get("gpu_per_user")
    if gpus is not None and per_user is not None and per_user > gpus:
        raise ServiceError(
            _l("GPUs per user (%(cap)d) cannot be more than the project's GPU quota "
               "(%(quota)d).", cap=per_user, quota=gpus),
            "invalid_limit",
        )
    return out


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on", "y")


def parse_days(value: object) -> int:
    """Extension length in days: a whole number within EXTENSION_DAYS."""
    low, high = EXTENSION_DAYS
    text = str(value).strip() if value is not None and not isinstance(value, bool) else ""
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise ServiceError(
            _l("Ask for a whole number of days between %(low)d and %(high)d.", low=low,
               high=high),
            "invalid_days",
        )
    return int(text)


SETTING_FIELDS = (*LIMITS, "start_date", "end_date", "members_see_sessions")


def settings_of(project) -> dict:
    return {field: getattr(project, field) for field in SETTING_FIELDS}
