"""Partitions' TRESBillingWeights, read and set as the Slurm operator (decision 9).

    scontrol --oneliner show partition          → PartitionName=gpu … TRESBillingWeights=CPU=1.0,…
    scontrol update PartitionName=gpu TRESBillingWeights=CPU=1,Mem=0.25G,GRES/gpu:a100=10

Slurm 22.05 applies the update at once to jobs that start afterwards (a running job keeps
the billing it started with). It is NOT written to slurm.conf: a slurmctld restart or
`scontrol reconfigure` brings back slurm.conf's value, so the portal re-applies when what
Slurm has differs from what the prices say (portal.services.prices.sync_weights).

Weights are "KEY=value" items: KEY is CPU, Mem, Node, Energy, GRES/<name>[:<type>],
License/<name>, FS/…; Mem's value may carry a unit ("0.25G": per GB). Keys compare
case-insensitively in Slurm, so they do here.
"""

from __future__ import annotations

import re

from adapters.errors import AdapterError, SlurmRejected, SlurmUnreachable, classify_failure
from adapters.runner import CommandRunner, find_command, validate_user
from adapters.scheduler.values import parse_kv

_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_/:.\-]{0,63}$")
_VALUE = re.compile(r"^[0-9]+(\.[0-9]+)?[KMGTP]?$")
_PARTITION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$")


def parse_weights(text: str | None) -> dict[str, str]:
    """ "CPU=1.0,Mem=0.25G,GRES/gpu=10.0" → {"CPU": "1.0", "Mem": "0.25G", …}.

    "" or "(null)" → {}. Raises ValueError for anything else Slurm would not print.
    """
    text = (text or "").strip()
    if text in ("", "(null)", "N/A"):
        return {}
    out: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not _KEY.fullmatch(key) or not _VALUE.fullmatch(value):
            raise ValueError(f"not a billing weight: {item!r}")
        if any(k.casefold() == key.casefold() for k in out):
            raise ValueError(f"weight {key!r} given twice")
        out[key] = value
    return out


def format_weights(weights: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in weights.items())


def _norm_value(value: str) -> tuple[float, str]:
    unit = value[-1] if value[-1:].isalpha() else ""
    return float(value[: len(value) - len(unit)]), unit.upper()


def same_weights(a: dict[str, str], b: dict[str, str]) -> bool:
    """Equal as Slurm reads them: keys case-insensitive, "1" == "1.0"."""
    def norm(w):
        return {k.casefold(): _norm_value(v) for k, v in w.items()}
    return norm(a) == norm(b)


class SlurmBillingWeights:
    """Read and set partitions' TRESBillingWeights. Raises SlurmUnreachable,
    CommandTimeout, SlurmRejected (Slurm's own words); ValueError for a bad name/weight."""

    def __init__(self, runner: CommandRunner | None = None, bin_dir: str | None = None,
                 operator: str | None = None, cluster: str | None = None):
        self.runner = runner or CommandRunner()
        self.bin_dir = bin_dir
        self.operator = validate_user(operator) if operator else None
        self.cluster = cluster

    @classmethod
    def from_scheduler(cls, scheduler, operator: str | None = None) -> SlurmBillingWeights:
        return cls(getattr(scheduler, "runner", None), getattr(scheduler, "bin_dir", None),
                   operator, getattr(scheduler, "cluster", None))

    def read(self) -> dict[str, dict[str, str]]:
        """Partition name → its weights ({} when it has none)."""
        argv = [find_command("scontrol", self.bin_dir), *self._clusters(), "--oneliner",
                "show", "partition"]
        result = self._run(argv)
        out: dict[str, dict[str, str]] = {}
        for line in result.stdout.splitlines():
            kv = parse_kv(line)
            if "PartitionName" in kv:
                try:
                    out[kv["PartitionName"]] = parse_weights(kv.get("TRESBillingWeights"))
                except ValueError as exc:
                    raise SlurmRejected(f"unexpected scontrol output: {exc}", argv,
                                        result.stdout, 0) from exc
        return out

    def set(self, partition: str, weights: dict[str, str]) -> None:
        if not _PARTITION.fullmatch(partition or ""):
            raise ValueError(f"invalid partition name: {partition!r}")
        text = format_weights(weights)
        parse_weights(text)  # refuse what Slurm would misread
        self._run([find_command("scontrol", self.bin_dir), *self._clusters(), "update",
                   f"PartitionName={partition}", f"TRESBillingWeights={text}"])

    def _run(self, argv: list[str]):
        result = self.runner.run(argv, as_user=self.operator, check=False)
        if result.returncode != 0:
            text = result.stderr if result.stderr.strip() else result.stdout
            error = classify_failure(result.argv, result.returncode, text)
            if isinstance(error, SlurmUnreachable):
                raise error
            raise SlurmRejected(error.message, error.argv, error.stderr, error.returncode)
        return result

    def _clusters(self) -> list[str]:
        return [f"--clusters={self.cluster}"] if self.cluster else []


__all__ = ["AdapterError", "SlurmBillingWeights", "format_weights", "parse_weights",
           "same_weights"]
