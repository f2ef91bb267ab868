"""What a job asks for (F6/F7): validation shared by jobs, templates and schedules.

Every value a user sends is checked here, once, for pages, API and CLI alike. Names end
up as Slurm job names and file names, so they are a conservative character set; the
command is free text (quotes, `$()`, backticks, newlines, any language) because it is
never interpolated anywhere: it is written to its own file and run by the container's
shell exactly as typed (ARCHITECTURE.md decision 2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from flask_babel import lazy_gettext as _l

from adapters.scheduler.values import parse_duration
from portal.services import ServiceError
from portal.services.images import IMAGE_TYPES, PUBLIC, get_image
from portal.services.requestcheck import capped_minutes, check_hardware, int_field

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
# Templates and schedules name their jobs "<name>-<n>": leave room for the number.
SHORT_NAME = 48
GPU_MODEL_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")
MAX_COMMAND_BYTES = 64 * 1024
# Used when the cluster cache is empty (worker not run yet): Slurm has the last word.
FALLBACK_LIMITS = {"cpus": 256, "mem_gb": 4096, "gpus": 16}
_BAD_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MAX_TIME_MINUTES = 365 * 24 * 60
MAX_NODES = 1024  # when the cluster cache is empty: Slurm has the last word


@dataclass(frozen=True)
class JobRequest:
    """A validated job specification (what jobs and templates store)."""

    gpu_model: str | None
    gpu_count: int
    cpus: int
    mem_gb: int
    shm_gb: int
    image_type: str
    image: str
    framework: str
    command: str
    # Slurm's --time in minutes; None: the project's MaxWall, else the partition default.
    time_limit_min: int | None = None
    # sbatch --nodes (issue #15): gpu_count, cpus and mem_gb are per node.
    node_count: int = 1

    def as_dict(self) -> dict:
        return asdict(self)


def validate_name(value: object, what: str = "job") -> str:
    """A job (up to 64 characters), template or schedule (up to 48) name.

    Letters, digits, '.', '_' and '-', starting with a letter or digit. Raises
    ServiceError("invalid_name"): shell metacharacters are refused, not escaped.
    """
    name = str(value or "").strip()
    limit = 64 if what == "job" else SHORT_NAME
    if not NAME_RE.match(name) or len(name) > limit:
        raise ServiceError(
            _l(
                "A name is 1–%(limit)s characters: letters, digits, '.', '_' or '-', "
                "starting with a letter or digit.",
                limit=limit,
            ),
            "invalid_name",
        )
    return name


def validate_command(value: object) -> str:
    """The command text as typed; Windows line ends become Unix ones.

    Raises ServiceError("invalid_command") for an empty command, NUL or other control
    characters (tabs and newlines are fine), text that is not valid Unicode, or more
    than 64 KiB.
    """
    if not isinstance(value, str):
        raise ServiceError(_l("The command must be text."), "invalid_command")
    command = value.replace("\r\n", "\n")
    if not command.strip():
        raise ServiceError(_l("Enter the command to run."), "invalid_command")
    if _BAD_CONTROL.search(command):
        raise ServiceError(
            _l("The command contains control characters (only tabs and new lines may be used)."),
            "invalid_command",
        )
    try:
        size = len(command.encode("utf-8"))
    except UnicodeEncodeError:
        raise ServiceError(_l("The command is not valid text."), "invalid_command") from None
    if size > MAX_COMMAND_BYTES:
        raise ServiceError(_l("The command is longer than 64 KiB."), "invalid_command")
    return command


def parse_time_limit(data: Mapping, limits: Mapping | None = None) -> int | None:
    """The time limit in minutes from `time_limit` (sbatch --time notation: "30" minutes,
    "M:S", "H:MM:SS", "D-H", "D-H:M", "D-H:M:S"; seconds round up to a minute, as in
    Slurm) or `time_limit_min` (whole minutes). Empty: None (the default applies).

    Raises ServiceError("invalid_time_limit") for anything else, or
    ServiceError("time_over_limit") naming the project's limit (`limits["max_minutes"]`).
    """
    raw = data.get("time_limit")
    if raw in (None, ""):
        raw = data.get("time_limit_min")
    if raw in (None, ""):
        return None
    minutes = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        minutes = raw
    elif isinstance(raw, str) and raw.strip().isascii():
        try:
            seconds = parse_duration(raw.strip())
        except ValueError:
            seconds = None
        minutes = None if seconds is None else -(-seconds // 60)
    if minutes is None or not 1 <= minutes <= MAX_TIME_MINUTES:
        raise ServiceError(
            _l("The time limit is minutes (for example 30) or hours:minutes:seconds (for "
               "example 2:00:00), or days-hours:minutes:seconds, as sbatch --time takes "
               "it; from 1 minute to 365 days."),
            "invalid_time_limit",
        )
    return capped_minutes(minutes, limits)


def default_time_limit(limits: Mapping | None, view: Mapping | None,
                       partition: str | None = None) -> int | None:
    """The time limit a job gets when none is given: the project's MaxWall, else the
    partition's DefaultTime (None: neither is known; Slurm then applies its own)."""
    from portal.services.pricing import partition_record

    cap = (limits or {}).get("max_minutes")
    if cap:
        return int(cap)
    record = partition_record(view, partition)
    value = record.get("default_time") if record else None
    return int(value) if value else None


def format_time_limit(minutes: int | None) -> str:
    """Minutes in sbatch --time notation that cannot be misread: "0:30:00", "4:00:00",
    "2-00:00:00" ("" for None)."""
    if minutes is None:
        return ""
    days, rest = divmod(int(minutes), 24 * 60)
    hours, mins = divmod(rest, 60)
    return f"{days}-{hours:02d}:{mins:02d}:00" if days else f"{hours}:{mins:02d}:00"


def time_limit_words(minutes: int | None) -> str:
    """Minutes in words: "30 min", "4 h", "1 h 30 min", "2 d 3 h"."""
    if minutes is None:
        return ""
    days, rest = divmod(int(minutes), 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(str(_l("%(n)d d", n=days)))
    if hours:
        parts.append(str(_l("%(n)d h", n=hours)))
    if mins or not parts:
        parts.append(str(_l("%(n)d min", n=mins)))
    return " ".join(parts)


def cluster_limits(view: Mapping | None) -> dict:
    """Largest node's CPUs and memory, and GPUs per model, from the cached cluster view."""
    if not view or not view.get("available") or not view.get("nodes"):
        return {**FALLBACK_LIMITS, "gpu_models": None}
    nodes = view["nodes"]
    models: dict[str, int] = {}
    for node in nodes:
        for model, counts in (node.get("gpus") or {}).items():
            models[model] = max(models.get(model, 0), int(counts[0]))
    return {
        "cpus": max(int(n.get("cpus_total") or 1) for n in nodes),
        "mem_gb": max(1, max(int(n.get("mem_total_mb") or 0) for n in nodes) // 1024),
        "gpus": max(models.values(), default=0),
        "gpu_models": models,
    }


def _gpu(data: Mapping, limits: dict) -> tuple[str | None, int]:
    models = limits["gpu_models"]
    model = str(data.get("gpu_model") or "").strip() or None
    high = models.get(model, 0) if (models is not None and model) else limits["gpus"]
    count = int_field(data, "gpu_count", 0, 0, max(high, 0), "invalid_gpu_count", _l("GPU count"))
    if count == 0:
        return None, 0
    if model is None and models:
        model = sorted(models)[0]
    offered = models is None or model in models
    if model is None or not GPU_MODEL_RE.match(model) or not offered:
        raise ServiceError(
            _l("The GPU model %(model)s is not offered by this cluster.", model=str(model)[:32]),
            "invalid_gpu_model",
        )
    return model, count


def partition_nodes(view: Mapping | None, gpu_model: str | None, gpu_count: int) -> tuple[
        str | None, int | None]:
    """(the partition a job goes to, how many of its nodes could run it) from the cached
    cluster view: for a GPU job only the nodes with that model count. (None, None) when
    the cache does not know (Slurm then has the last word)."""
    from flask import current_app, has_app_context

    from portal.services.pricing import partition_for, partition_record

    if not view or not view.get("available") or not view.get("partitions"):
        return None, None
    cpu_part = current_app.config.get("CPU_PARTITION", "cpu") if has_app_context() else "cpu"
    partition = partition_for(view, gpu_model, gpu_count, cpu_partition=cpu_part)
    record = partition_record(view, partition)
    if record is None:
        return partition, None
    names = set(record.get("nodes") or [])
    if gpu_count:
        names &= {n["name"] for n in view.get("nodes") or []
                  if gpu_model in (n.get("gpus") or {})}
    return record.get("name") or partition, len(names) or None


def validate_node_count(value: object, high: int | None, partition: str | None = None) -> int:
    """The number of nodes (sbatch --nodes): a whole number from 1 to `high`, the nodes of
    the job's partition (None: not known, up to MAX_NODES). Raises
    ServiceError("invalid_node_count") naming the partition and its size."""
    top = high if high else MAX_NODES
    raw = 1 if value in (None, "") else value
    count = None
    if not isinstance(raw, bool):
        try:
            count = raw if isinstance(raw, int) else int(str(raw).strip())
        except (TypeError, ValueError):
            count = None
    if count is None or not 1 <= count <= top:
        if high and partition:
            message = _l("The number of nodes must be a whole number from 1 to %(high)s, "
                         "the size of the partition %(partition)s for this job.",
                         high=high, partition=partition)
        else:
            message = _l("The number of nodes must be a whole number from 1 to %(high)s.",
                         high=top)
        raise ServiceError(message, "invalid_node_count")
    return count


def parse_request(user, data: Mapping, cluster_view: Mapping | None = None, *,
                  limits: Mapping | None = None) -> JobRequest:
    """Validate hardware, image and command from a form, JSON body or template.

    `limits` are the project's (requestcheck.project_limits). Raises ServiceError with a
    stable code naming the first bad field, or "over_quota" with the project's limit.
    """
    sizes = cluster_limits(cluster_view)
    gpu_model, gpu_count = _gpu(data, sizes)
    cpus = int_field(data, "cpus", 1, 1, sizes["cpus"], "invalid_cpus", _l("CPU cores"))
    mem_gb = int_field(data, "mem_gb", 4, 1, sizes["mem_gb"], "invalid_memory",
                       _l("Memory (GB)"))
    partition, high = partition_nodes(cluster_view, gpu_model, gpu_count)
    nodes = validate_node_count(data.get("node_count"), high, partition)
    # Quotas count the whole job: what one node asks for, on every node.
    check_hardware({"gpu_count": gpu_count * nodes, "cpus": cpus * nodes,
                    "mem_gb": mem_gb * nodes}, limits)
    shm_gb = int_field(data, "shm_gb", 0, 0, mem_gb, "invalid_shm", _l("Shared memory (GB)"))
    image_type = str(data.get("image_type") or PUBLIC)
    if image_type not in IMAGE_TYPES:
        raise ServiceError(_l("Unknown image type."), "invalid_image_type")
    image = get_image(user, str(data.get("image") or ""), image_type)
    time_limit = parse_time_limit(data, limits)
    return JobRequest(
        gpu_model=gpu_model,
        gpu_count=gpu_count,
        cpus=cpus,
        mem_gb=mem_gb,
        shm_gb=shm_gb,
        image_type=image.type,
        image=image.key,
        framework=image.framework,
        command=validate_command(data.get("command")),
        time_limit_min=time_limit,
        node_count=nodes,
    )


def spec_of(row) -> dict:
    """The JobRequest fields of a job or template row, as a plain dict."""
    return {f: getattr(row, f) for f in JobRequest.__dataclass_fields__}
