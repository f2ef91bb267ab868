"""Slurm's value notations, parsed: times, durations, node lists, GRES, TRES, key=value.

Pure functions. Each either returns a value or raises ValueError, whatever the input
(property-tested with hypothesis), so one odd field can never crash the worker. The
formats are those Slurm prints with the minimal environment of the runner (no
SLURM_TIME_FORMAT): ISO local times, "[D-]HH:MM:SS" durations, "name[01-03,05]" lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

# Spellings Slurm uses for "no value" across commands and versions (compared casefolded):
# squeue prints "N/A", "NONE" and "(null)", sacct "Unknown", "None" and "None assigned".
NONE_VALUES = frozenset({"", "n/a", "n/s", "unknown", "none", "(null)", "none assigned"})
UNLIMITED_VALUES = frozenset({"UNLIMITED", "INFINITE", "Partition_Limit", "NOT_SET", "INVALID"})
MAX_NODES = 100_000  # refuse to expand absurd node ranges from a corrupted line

_DURATION = re.compile(r"^(?:([0-9]+)-)?([0-9]+)(?::([0-9]+))?(?::([0-9]+))?$")
_RANGE = re.compile(r"^([0-9]+)(?:-([0-9]+))?$")
_GRES_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_COUNT = re.compile(r"^([0-9]+)([KMGTP]?)$")
_KV_KEY = re.compile(r"(?:^|(?<=\s))([A-Za-z][A-Za-z0-9_/:.\-]*)=")


def opt(value: str | None) -> str | None:
    """None for Slurm's "no value" spellings, else the value stripped."""
    if value is None:
        return None
    value = value.strip()
    return None if value.casefold() in NONE_VALUES else value


def parse_datetime(value: str | None) -> datetime | None:
    """A Slurm timestamp ("2024-05-01T12:00:00", local time) as an aware datetime."""
    value = opt(value)
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S").astimezone()
    except (OverflowError, OSError) as exc:  # years at the edge of what the OS handles
        raise ValueError(f"timestamp out of range: {value!r}") from exc


def parse_duration(value: str | None) -> int | None:
    """Seconds in a Slurm duration; None for unlimited or unset.

    Slurm's notation: "M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S".
    """
    value = opt(value)
    if value is None or value in UNLIMITED_VALUES:
        return None
    match = _DURATION.fullmatch(value)
    if not match:
        raise ValueError(f"not a Slurm duration: {value!r}")
    days, first, second, third = match.groups()
    nums = [int(x) for x in (first, second, third) if x is not None]
    if days is not None:
        hours, minutes, seconds = (nums + [0, 0])[:3]
        return ((int(days) * 24 + hours) * 60 + minutes) * 60 + seconds
    if len(nums) == 3:
        return (nums[0] * 60 + nums[1]) * 60 + nums[2]
    if len(nums) == 2:
        return nums[0] * 60 + nums[1]
    return nums[0] * 60


def format_duration(seconds: int) -> str:
    """Slurm's display of a duration ("5:00", "1:00:00", "2-03:04:05")."""
    if seconds < 0:
        raise ValueError("durations are not negative")
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}-{hours:02d}:{minutes:02d}:{secs:02d}"
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def parse_minutes(value: str | None) -> int | None:
    """A time limit in whole minutes (rounded up); None for unlimited or unset."""
    seconds = parse_duration(value)
    return None if seconds is None else -(-seconds // 60)


def parse_exit_code(value: str | None) -> tuple[int | None, int | None]:
    """Slurm's "code:signal" as (code, signal); (None, None) when unknown."""
    value = opt(value)
    if value is None:
        return None, None
    code, sep, sig = value.partition(":")
    if not code.isascii() or not code.isdigit() or (sep and not (sig.isascii() and sig.isdigit())):
        raise ValueError(f"not an exit code: {value!r}")
    return int(code), int(sig) if sep else 0


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside brackets and parentheses ("a[1-2],b" → ["a[1-2]", "b"])."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced brackets in {text!r}")
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise ValueError(f"unbalanced brackets in {text!r}")
    parts.append(text[start:])
    return parts


def expand_nodelist(value: str | None) -> list[str]:
    """Slurm's host list ("gpu[01-03,05],cpu1") as names; [] for "None assigned"."""
    value = opt(value)
    if value is None:
        return []
    names: list[str] = []
    for part in split_top(value):
        if not part:
            raise ValueError(f"empty host name in {value!r}")
        names.extend(_expand_host(part, MAX_NODES - len(names)))
    return names


def _expand_host(part: str, budget: int) -> list[str]:
    open_at = part.find("[")
    if open_at < 0:
        if "]" in part:
            raise ValueError(f"unbalanced brackets in {part!r}")
        return [part]
    close_at = part.find("]", open_at)
    if close_at < 0:
        raise ValueError(f"unbalanced brackets in {part!r}")
    prefix, body, rest = part[:open_at], part[open_at + 1 : close_at], part[close_at + 1 :]
    if "[" in prefix or "]" in prefix or "[" in body:
        raise ValueError(f"unbalanced brackets in {part!r}")
    tails = _expand_host(rest, budget) if rest else [""]
    numbers = _expand_ranges(body, max(1, budget // len(tails)))
    return [f"{prefix}{num}{tail}" for num in numbers for tail in tails]


def _expand_ranges(body: str, budget: int) -> list[str]:
    """ "01-03,7" → ["01", "02", "03", "7"], keeping each range's zero padding."""
    out: list[str] = []
    for item in body.split(","):
        match = _RANGE.fullmatch(item)
        if not match:
            raise ValueError(f"not a numeric range: {item!r}")
        low, high = match.group(1), match.group(2) or match.group(1)
        first, last = int(low), int(high)
        if last < first or last - first + 1 + len(out) > budget:
            raise ValueError(f"bad or oversized range: {item!r}")
        out.extend(f"{n:0{len(low)}d}" for n in range(first, last + 1))
    return out


@dataclass(frozen=True)
class Gres:
    """One generic resource: `gpu:a100:2` → Gres("gpu", "a100", 2)."""

    name: str
    type: str | None
    count: int
    indices: tuple[int, ...] | None = None

    def __str__(self) -> str:
        middle = f":{self.type}" if self.type else ""
        return f"{self.name}{middle}:{self.count}"


def parse_gres(value: str | None) -> list[Gres]:
    """GRES in any of Slurm's notations, as a list.

    Accepts node config "gpu:a100:4(S:0-1)", usage "gpu:a100:1(IDX:0)", requests
    "gres:gpu:a100:2" (22.05 squeue) or "gres/gpu:a100:2" (23.02+), TRES "gres/gpu:a100=2",
    and untyped "gpu:2" or "gpu".
    """
    value = opt(value)
    if value is None:
        return []
    return [_parse_gres_item(item) for item in split_top(value) if item]


def _parse_gres_item(item: str) -> Gres:
    body, paren, extra = item.partition("(")
    if paren and not extra.endswith(")"):
        raise ValueError(f"unbalanced parenthesis in {item!r}")
    for prefix in ("gres/", "gres:"):
        if body.startswith(prefix):
            body = body[len(prefix) :]
    if "=" in body:  # TRES notation: name[:type]=count
        key, _, count_text = body.partition("=")
        parts, count = key.split(":"), _parse_count(count_text)
    else:
        parts = body.split(":")
        count = 1
        if len(parts) > 1 and _COUNT.fullmatch(parts[-1]):
            count = _parse_count(parts.pop())
    if len(parts) > 2 or not all(_GRES_NAME.fullmatch(p) for p in parts):
        raise ValueError(f"not a GRES: {item!r}")
    gres_type = parts[1] if len(parts) == 2 else None
    return Gres(parts[0], gres_type, count, _parse_indices(extra[:-1]) if paren else None)


def _parse_count(text: str) -> int:
    match = _COUNT.fullmatch(text)
    if not match:
        raise ValueError(f"not a GRES count: {text!r}")
    power = " KMGTP".index(match.group(2) or " ")
    return int(match.group(1)) * 1024**power


def _parse_indices(extra: str) -> tuple[int, ...] | None:
    """ "IDX:0-1,3" → (0, 1, 3); "IDX:N/A" → (); socket info only ("S:0-1") → None."""
    at = extra.find("IDX:")
    if at < 0:
        return None
    idx = extra[at + 4 :]
    return () if opt(idx) is None else tuple(int(i) for i in _expand_ranges(idx, 4096))


def parse_tres(value: str | None) -> dict[str, str]:
    """ "cpu=2,mem=1000M,gres/gpu:a100=2" → {"cpu": "2", "mem": "1000M", …}."""
    value = opt(value)
    if value is None:
        return {}
    out = {}
    for item in value.split(","):
        key, sep, amount = item.partition("=")
        if not sep or not key:
            raise ValueError(f"not a TRES item: {item!r}")
        out[key] = amount
    return out


def gres_from_tres(value: str | None) -> str | None:
    """The GRES part of a TRES string, typed entries preferred ("gpu:a100:2")."""
    items = [
        _parse_gres_item(f"{k}={v}") for k, v in parse_tres(value).items() if k.startswith("gres/")
    ]
    typed = {g.name for g in items if g.type}
    chosen = [g for g in items if g.type or g.name not in typed]
    return ",".join(str(g) for g in chosen) or None


def gpus_by_model(items: list[Gres]) -> dict[str, int]:
    """GPU counts per model; untyped GPUs count under "gpu"."""
    out: dict[str, int] = {}
    typed = any(g.type for g in items if g.name == "gpu")
    for g in items:
        if g.name == "gpu" and (g.type or not typed):
            model = g.type or "gpu"
            out[model] = out.get(model, 0) + g.count
    return out


def parse_kv(line: str) -> dict[str, str]:
    """`scontrol show … --oneliner` output: "Key=value Key2=a b c" → dict.

    Values may contain spaces (OS=, Reason=); a key is a word followed by "=" at the
    start or after whitespace. Unknown keys are kept, so newer Slurm versions' extra
    fields do no harm.
    """
    matches = list(_KV_KEY.finditer(line))
    out = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        out[match.group(1)] = line[match.end() : end].strip()
    return out
