"""sacctmgr's records and notations: parsing its output, formatting its arguments.

Pure functions (no I/O) used by `adapters.accounts`; parsers raise only ValueError
(hypothesis-tested), formatters raise ValueError for anything sacctmgr would misread.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from adapters.scheduler.values import parse_minutes

BASE_FLAGS = ["-i", "--parsable2", "--noheader"]
# Exit status 1 with one of these on stdout and nothing on stderr: already so. Slurm 24.11
# says "Already existing account" (add account) and "Request didn't affect anything" /
# "Nothing added." (add user) where 22.05 said "Nothing new added".
NOTHING = ("nothing new added", "nothing modified", "nothing deleted", "nothing removed",
           "already existing account", "nothing added")
# ...unless stdout also says why nothing was done: 24.11 reports an unknown account there
# ("No account X on cluster C, skipping." + "Nothing added."), 22.05 on stderr.
NOT_DONE = ("skipping", "doesn't exist", "does not exist")
# Slurm accepts wider names; these are the ones it keeps exactly as given.
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
TRES_KEY = re.compile(r"^(cpu|mem|node|billing|energy|gres/[a-z0-9_]+(:[a-z0-9_.-]+)?)$")
ASSOC_FIELDS = (
    "account", "user", "parentname", "grptres", "grpjobs", "grpsubmit", "maxwall", "qos",
    "defaultqos",
)
QOS_FIELDS = (
    "id", "name", "description", "priority", "grptres", "maxtrespu", "maxwall", "maxjobspu",
    "flags",
)
ACCOUNT_FIELDS = ("account", "descr", "org", "coord")
# What each kind of object may have set, as sacctmgr spells it.
ACCOUNT_SETTINGS = frozenset(
    {"Description", "Organization", "GrpTRES", "GrpJobs", "GrpSubmitJobs", "MaxWall",
     "MaxJobs", "QOS", "DefaultQOS", "MaxTRES", "MaxSubmitJobs"}
)
QOS_SETTINGS = frozenset(
    {"Description", "Priority", "GrpTRES", "MaxTRESPerUser", "MaxWall", "MaxJobsPerUser",
     "GrpJobs", "GrpSubmitJobs", "Flags"}
)
_UNITS = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024**2, "P": 1024**3}
_TEXT_BAD = re.compile(r"[\x00-\x1f\x7f|'\"]")


@dataclass(frozen=True)
class AccountRecord:
    """An account: `coordinators` are the users who may manage its users from a shell."""

    name: str
    description: str = ""
    organization: str = ""
    coordinators: tuple[str, ...] = ()


@dataclass(frozen=True)
class Association:
    """An association; `user` is None for the account's own (the project-wide limits).

    TRES maps use Slurm's keys ("cpu", "mem", "gres/gpu", "gres/gpu:a100") with memory in
    MB; `max_wall` is in minutes; None means "no limit set here".
    """

    account: str
    user: str | None = None
    parent: str | None = None
    grp_tres: dict[str, int] = field(default_factory=dict)
    grp_jobs: int | None = None
    grp_submit: int | None = None
    max_wall: int | None = None
    qos: tuple[str, ...] = ()
    default_qos: str | None = None


@dataclass(frozen=True)
class QosRecord:
    """A QOS as sacctmgr shows it (TRES maps as in `Association`); `id` is Slurm's."""

    name: str
    description: str = ""
    priority: int = 0
    grp_tres: dict[str, int] = field(default_factory=dict)
    max_tres_per_user: dict[str, int] = field(default_factory=dict)
    max_wall: int | None = None
    max_jobs_per_user: int | None = None
    flags: tuple[str, ...] = ()
    id: int | None = None


# -- parsing (pure; raise ValueError only) ----------------------------------------------


def parse_tres(text: str) -> dict[str, int]:
    """ "cpu=8,gres/gpu=4,mem=16000M" → {"cpu": 8, "gres/gpu": 4, "mem": 16000} (mem in MB)."""
    out: dict[str, int] = {}
    for item in (text or "").strip().split(","):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"not a TRES item: {item!r}")
        out[key] = _tres_amount(key, value)
    return out


def _tres_amount(key: str, value: str) -> int:
    unit = value[-1:].upper()
    number = value[:-1] if unit in _UNITS else value
    if not number.isascii() or not number.isdigit():
        raise ValueError(f"not a TRES amount: {key}={value!r}")
    if key == "mem":
        return int(int(number) * _UNITS.get(unit, 1))
    if unit in _UNITS:
        raise ValueError(f"unexpected unit in {key}={value!r}")
    return int(number)


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.lstrip("-").isdigit():
        raise ValueError(f"not a number: {text!r}")
    return int(text)


def _split(line: str, count: int) -> list[str]:
    values = line.split("|")
    if len(values) != count:
        raise ValueError(f"expected {count} fields, got {len(values)}: {line[:80]!r}")
    return values


def _names(text: str) -> tuple[str, ...]:
    return tuple(n for n in text.strip().split(",") if n)


def parse_associations(text: str) -> list[Association]:
    """`show assoc format=<ASSOC_FIELDS>` output."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        acct, user, parent, grp, jobs, submit, wall, qos, dqos = _split(line, len(ASSOC_FIELDS))
        out.append(Association(
            account=acct.strip(), user=user.strip() or None, parent=parent.strip() or None,
            grp_tres=parse_tres(grp), grp_jobs=_int_or_none(jobs),
            grp_submit=_int_or_none(submit), max_wall=parse_minutes(wall.strip() or None),
            qos=_names(qos), default_qos=dqos.strip() or None,
        ))
    return out


def parse_qos(text: str) -> list[QosRecord]:
    """`show qos format=<QOS_FIELDS>` output."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        qid, name, descr, prio, grp, maxpu, wall, jobspu, flags = _split(line, len(QOS_FIELDS))
        out.append(QosRecord(
            id=_int_or_none(qid), name=name.strip(), description=descr,
            priority=_int_or_none(prio) or 0,
            grp_tres=parse_tres(grp), max_tres_per_user=parse_tres(maxpu),
            max_wall=parse_minutes(wall.strip() or None),
            max_jobs_per_user=_int_or_none(jobspu), flags=_names(flags),
        ))
    return out


def parse_accounts(text: str) -> list[AccountRecord]:
    """`show account withcoord format=<ACCOUNT_FIELDS>` output.

    A description may hold "|" when someone typed one by hand: the fields around it are
    fixed, so the middle is joined back.
    """
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        values = line.split("|")
        if len(values) < len(ACCOUNT_FIELDS):
            raise ValueError(f"expected {len(ACCOUNT_FIELDS)} fields: {line[:80]!r}")
        name, *middle, org, coord = values
        out.append(AccountRecord(name.strip(), "|".join(middle), org, _names(coord)))
    return out


# -- formatting -------------------------------------------------------------------------


def check_name(name: str, what: str = "name") -> str:
    """`name` if sacctmgr keeps it exactly as given; ValueError otherwise."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(f"invalid {what}: {name!r}")
    return name


def format_tres(tres: Mapping[str, int | None]) -> str:
    """{"cpu": 4, "mem": 8192, "gres/gpu": None} → "cpu=4,gres/gpu=-1,mem=8192M"."""
    items = []
    for key in sorted(tres):
        if not TRES_KEY.fullmatch(key):
            raise ValueError(f"invalid TRES name: {key!r}")
        value = tres[key]
        if value is None:
            items.append(f"{key}=-1")
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"TRES {key} must be a whole number ≥ 0, got {value!r}")
        items.append(f"{key}={value}M" if key == "mem" else f"{key}={value}")
    if not items:
        raise ValueError("empty TRES")
    return ",".join(items)


def format_minutes(minutes: int) -> str:
    """Minutes as Slurm's [D-]HH:MM:SS."""
    days, rest = divmod(minutes, 24 * 60)
    text = f"{rest // 60:02d}:{rest % 60:02d}:00"
    return f"{days}-{text}" if days else text


def clean_text(text: str, limit: int = 200) -> str:
    """A description sacctmgr stores without mangling quotes or breaking `|` output."""
    return _TEXT_BAD.sub(" ", text or "").strip()[:limit] or "-"


def format_settings(settings: Mapping[str, object], allowed: frozenset[str]) -> list[str]:
    """`Key=value` arguments; None clears a limit (-1). Raises ValueError for bad input."""
    args = []
    for key, value in settings.items():
        if key not in allowed:
            raise ValueError(f"unknown setting: {key}")
        args.append(f"{key}={_format_value(key, value)}")
    return args


def _format_value(key: str, value: object) -> str:
    if key in ("Description", "Organization"):
        return clean_text(str(value))
    if key.endswith("TRES") or key == "MaxTRESPerUser":
        return format_tres(value or {})
    if value is None:
        return "-1"
    if key in ("QOS", "Flags"):
        names = [check_name(v, "QOS") if key == "QOS" else v for v in value]
        if not names or not all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", n) for n in names):
            raise ValueError(f"{key} needs at least one plain name: {value!r}")
        return ",".join(names)
    if key == "DefaultQOS":
        return check_name(value, "QOS")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} must be a whole number ≥ 0, got {value!r}")
    return format_minutes(value) if key == "MaxWall" else str(value)


def tres_update(current: Mapping[str, int], desired: Mapping[str, int | None]) -> dict:
    """What to send so the TRES become exactly `desired`: old keys not wanted are cleared."""
    out: dict[str, int | None] = {k: None for k in current if k not in desired}
    out.update({k: v for k, v in desired.items()})
    return out
