"""What a session asks for (F3): every value from the create form, API or CLI, checked once.

Hardware is bounded by the largest node of the cached cluster view (and the project's
quota where the projects feature records one), times must lie in the future, the image
must be one the user may run, keys and whitelists must be the user's own. Every refusal
is a ServiceError with a stable code naming the field, raised before anything is
recorded or submitted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask_babel import lazy_gettext as _l

from portal.services import NotFound, ServiceError
from portal.services import keys as keysvc
from portal.services import whitelists as wlsvc
from portal.services.images import IMAGE_TYPES, PUBLIC, get_image
from portal.services.jobspec import GPU_MODEL_RE, NAME_RE, cluster_limits
from portal.services.passwords import password_problem
from portal.services.requestcheck import capped_minutes, check_hardware, int_field

__all__ = ["SessionRequest", "hardware", "int_field", "parse_request", "times", "validate_name"]

MAX_HOURS = 24 * 30
MAX_BEGIN_DAYS = 365
START_CHOICES = ("now", "at")
END_CHOICES = ("never", "at", "hours")
SSH_CHOICES = ("none", "key", "password")


@dataclass(frozen=True)
class SessionRequest:
    """A validated session specification. Times are naive UTC."""

    name: str
    gpu_model: str | None
    gpu_count: int
    cpus: int
    mem_gb: int
    shm_gb: int
    image_type: str
    image: str
    image_path: str
    framework: str
    shell: str
    services: tuple[str, ...]
    ssh_key_ids: tuple[int, ...] = ()
    whitelist_ids: tuple[int, ...] = ()
    allow_all: bool = False
    begin_at: datetime | None = None
    end_at: datetime | None = None
    time_limit_min: int | None = None
    webterm_password: str | None = field(default=None, repr=False)
    # F4: keep the container's changes (a per-session copy of the image; committable).
    writable: bool = False


def validate_name(value: object) -> str:
    """1–64 letters, digits, '.', '_' or '-' (a Slurm job name and a file name)."""
    name = str(value or "").strip()
    if not NAME_RE.match(name):
        raise ServiceError(
            _l("A name is 1–64 characters: letters, digits, '.', '_' or '-', starting with a "
               "letter or digit."),
            "invalid_name",
        )
    return name


def parse_time(value: object, code: str, label) -> datetime:
    """An ISO date-time ("2030-01-02T03:04", optionally with an offset) as naive UTC.

    A time without offset is the portal host's local time (the cluster's clock).
    """
    text = str(value or "").strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ServiceError(
            _l("%(field)s is not a date and time (YYYY-MM-DDTHH:MM).", field=label), code
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()
    return parsed.astimezone(UTC).replace(tzinfo=None)


def _choice(data: Mapping, key: str, choices: tuple, default: str) -> str:
    value = str(data.get(key) or default).strip().lower()
    if value not in choices:
        raise ServiceError(_l("Unknown choice for %(field)s.", field=key), f"invalid_{key}")
    return value


def _ids(data: Mapping, key: str) -> list[int]:
    raw = data.get(key) or []
    if isinstance(raw, str | int):
        raw = [raw]
    try:
        return list(dict.fromkeys(int(str(v).strip()) for v in raw if str(v).strip()))
    except ValueError:
        raise ServiceError(_l("Invalid selection for %(field)s.", field=key),
                           f"invalid_{key}") from None


def _bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "y")
    return bool(value)


def hardware(data: Mapping, view: Mapping | None, quota: Mapping | None = None) -> dict:
    """GPU model/count, CPUs, memory, shared memory within node sizes and the project's
    limits (`quota`: requestcheck.project_limits). Raises ServiceError naming the field,
    or "over_quota" with the project's limit.
    """
    limits = dict(cluster_limits(view))
    models = limits["gpu_models"]
    model = str(data.get("gpu_model") or "").strip() or None
    high = limits["gpus"]
    if models is not None and model:
        high = min(high, models.get(model, 0))
    count = int_field(data, "gpu_count", 0, 0, max(high, 0), "invalid_gpu_count", _l("GPU count"))
    if count and model is None and models:
        model = sorted(models)[0]
    if count and (model is None or not GPU_MODEL_RE.match(model)
                  or (models is not None and model not in models)):
        raise ServiceError(
            _l("The GPU model %(model)s is not offered by this cluster.", model=str(model)[:32]),
            "invalid_gpu_model",
        )
    cpus = int_field(data, "cpus", 1, 1, limits["cpus"], "invalid_cpus", _l("CPU cores"))
    mem = int_field(data, "mem_gb", 4, 1, limits["mem_gb"], "invalid_memory", _l("Memory (GB)"))
    shm = int_field(data, "shm_gb", 0, 0, mem, "invalid_shm", _l("Shared memory (GB)"))
    hw = {"gpu_model": model if count else None, "gpu_count": count, "cpus": cpus,
          "mem_gb": mem, "shm_gb": shm}
    check_hardware(hw, quota)
    return hw


def times(data: Mapping, now: datetime, max_minutes: int | None = None,
          quota: Mapping | None = None) -> dict:
    """begin_at, end_at and the Slurm time limit from the start/end choices.

    `max_minutes` is the partitions' longest limit; `quota` the project's limits: "never"
    runs as long as the project's session limit allows. Raises ServiceError.
    """
    begin = None
    if _choice(data, "start", START_CHOICES, "now") == "at":
        begin = parse_time(data.get("begin_at"), "invalid_begin", _l("Start time"))
        if begin <= now:
            raise ServiceError(_l("The start time is in the past."), "begin_in_past")
        if begin > now + timedelta(days=MAX_BEGIN_DAYS):
            raise ServiceError(_l("The start time is more than a year away."), "invalid_begin")
    end_choice = _choice(data, "end", END_CHOICES, "never")
    end, limit = None, None
    if end_choice == "hours":
        hours = int_field(data, "hours", 0, 1, MAX_HOURS, "invalid_hours", _l("Hours"))
        limit = hours * 60
    elif end_choice == "at":
        end = parse_time(data.get("end_at"), "invalid_end", _l("End time"))
        if end <= (begin or now):
            raise ServiceError(_l("The end time must be after the start."), "end_before_start")
        limit = math.ceil((end - (begin or now)).total_seconds() / 60)
    if limit is not None and max_minutes is not None and limit > max_minutes:
        raise ServiceError(
            _l("The session may run at most %(hours)s hours here.",
               hours=round(max_minutes / 60, 1)),
            "time_over_limit",
        )
    return {"begin_at": begin, "end_at": end, "time_limit_min": capped_minutes(limit, quota)}


def access(user, data: Mapping, image) -> dict:
    """Services, SSH keys, web-terminal password and whitelists the session uses."""
    ssh = _choice(data, "ssh_auth", SSH_CHOICES, "none")
    services = [s for s in image.services if s != "ssh" or ssh != "none"]
    key_ids: list[int] = []
    if ssh != "none" and "ssh" not in image.services:
        raise ServiceError(_l("This image does not offer SSH."), "ssh_not_offered")
    if ssh == "password":
        raise ServiceError(
            _l("SSH password sign-in is not available: a session's sshd runs as you and "
               "cannot check passwords. Choose a key."),
            "ssh_password_unsupported",
        )
    if ssh == "key":
        if "key" not in image.auth:
            raise ServiceError(_l("This image does not offer SSH key sign-in."), "ssh_not_offered")
        key_ids = _ids(data, "ssh_key_ids")
        if not key_ids:
            raise ServiceError(_l("Choose at least one of your SSH keys."), "no_ssh_key")
        for key_id in key_ids:
            _own(keysvc.get_key, user, key_id, _l("That SSH key is not one of yours."),
                 "invalid_key")
    allow_all = _bool(data.get("allow_all"))
    whitelist_ids = [] if allow_all else _ids(data, "whitelist_ids")
    rows = [_own(wlsvc.get_whitelist, user, i, _l("That whitelist is not one of yours."),
                 "invalid_whitelist") for i in whitelist_ids]
    if not allow_all and not rows:
        raise ServiceError(_l("Choose at least one whitelist, or allow all incoming."),
                           "no_whitelist")
    if "ssh" in services:
        wlsvc.sshd_from_option(rows, allow_all=allow_all)  # raises no_ssh_source
    password = str(data.get("webterm_password") or "")
    if password and "webterm" not in services:
        raise ServiceError(_l("This image offers no web terminal."), "webterm_not_offered")
    if password and password_problem(password):
        raise ServiceError(password_problem(password), "weak_password")
    return {"services": tuple(services), "ssh_key_ids": tuple(key_ids),
            "whitelist_ids": tuple(whitelist_ids), "allow_all": allow_all,
            "webterm_password": password or None}


def _own(getter, user, item_id: int, message, code: str):
    try:
        return getter(user, item_id)
    except NotFound:
        raise ServiceError(message, code) from None


def parse_request(user, data: Mapping, view: Mapping | None, *, quota: Mapping | None = None,
                  now: datetime | None = None, max_minutes: int | None = None,
                  name: str | None = None) -> SessionRequest:
    """The whole form. Raises ServiceError naming the first bad field."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    valid_name = validate_name(name if name is not None else data.get("name"))
    hw = hardware(data, view, quota)
    image_type = str(data.get("image_type") or PUBLIC)
    if image_type not in IMAGE_TYPES:
        raise ServiceError(_l("Unknown image type."), "invalid_image_type")
    image = get_image(user, str(data.get("image") or ""), image_type)
    if not image.services:
        raise ServiceError(_l("This image offers no session services."), "image_not_allowed")
    return SessionRequest(
        name=valid_name, **hw, image_type=image.type, image=image.key, image_path=image.path,
        framework=image.framework, shell=image.shell, **times(data, now, max_minutes, quota),
        **access(user, data, image), writable=writable_choice(data),
    )


def writable_allowed() -> bool:
    """Whether this portal offers writable sessions (config `session_writable`, default on)."""
    from flask import current_app

    return bool(current_app.config.get("SESSION_WRITABLE", True))


def writable_choice(data: Mapping) -> bool:
    """The "keep changes to the container" choice (F4; default off). Refused when the
    portal does not allow writable sessions, or when the value is not a yes/no."""
    raw = data.get("writable")
    if raw is None or raw == "" or isinstance(raw, bool):
        wanted = bool(raw)
    elif isinstance(raw, str) and raw.strip().lower() in _YES + _NO:
        wanted = raw.strip().lower() in _YES
    else:
        raise ServiceError(_l("writable must be true or false."), "invalid_writable")
    if wanted and not writable_allowed():
        raise ServiceError(_l("This portal does not offer sessions that keep changes to the "
                              "container (session_writable = false); start the session "
                              "without that option."), "writable_disabled")
    return wanted


_YES = ("1", "true", "yes", "on", "y")
_NO = ("0", "false", "no", "off", "n")
