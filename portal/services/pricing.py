"""What an hour of a request costs (F11): the one price that forms, orders and charges show.

One source of truth: Slurm's billing weights (TRESBillingWeights of the partition a job
runs in). Slurm computes a job's billing as Σ weight × allocated TRES; the wallet charges
sacct's billing (a whole number: Slurm truncates it) × hours / SCALE
(portal.services.wallet.cost_of). So the price per hour of a request is

    hourly = floor(Σ weight × TRES) / SCALE

and that is what the create forms show before submit, what an order records as its unit
price and what the wallet charges per hour the job runs. The unrounded billing is what
Slurm's budget (GrpTRESMins=billing) counts, so the forms use it to say whether a time
limit fits the budget.

Which weights: the partition's, as the worker's cached `scontrol show partition` read
them; where the portal applies prices to Slurm (portal.services.prices.applying), the
prices in force are put in first (as the worker will put them into Slurm). When the
cache does not know the partition's weights yet, the prices alone are used; when there
are neither, the price is unknown and shown as such. A partition without weights is
billed by Slurm on its allocated CPUs (billing = CPUs), and so it is here.

Not modelled: PriorityFlags=MAX_TRES (billing = the largest node TRES, not the sum).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import select

from portal import db
from portal.models.accounting import Price

CPU = "cpu"
PLACES = Decimal("0.0001")
DEFAULT_SCALE = 100  # billing units per currency unit unless BILLING_UNITS_PER_CURRENCY says
# Mem weights may carry a unit: the weight is per that unit of memory (Slurm counts MB).
_MEM_UNIT_MB = {"": 1, "M": 1, "K": Decimal(1) / 1024, "G": 1024, "T": 1024**2, "P": 1024**3}


# -- prices and Slurm weights (portal.services.prices sets prices; these turn them into
# the weights Slurm bills by) ---------------------------------------------------------


def billing_scale() -> Decimal:
    """Billing units per currency unit (weight = hourly price × scale)."""
    value = current_app.config.get("BILLING_UNITS_PER_CURRENCY") or DEFAULT_SCALE
    return Decimal(str(value))


def weight_of(hourly: Decimal) -> str:
    """The billing weight for an hourly price, as Slurm reads it ("10", "2.5")."""
    value = (Decimal(hourly) * billing_scale()).normalize()
    text = format(value, "f")
    return text if "." not in text else text.rstrip("0").rstrip(".") or "0"


def applying() -> bool:
    value = current_app.config.get("BILLING_WEIGHTS_APPLY")
    if value is None:
        return not current_app.config.get("TESTING")
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def desired_weights(existing: dict[str, str], prices: dict[str, Decimal]) -> dict[str, str]:
    """`existing` with the portal's weights put in (see portal.services.prices)."""
    out = dict(existing)
    if CPU in prices:
        out = {k: v for k, v in out.items() if k.casefold() != "cpu"}
        out["CPU"] = weight_of(prices[CPU])
    gpus = {r[4:]: p for r, p in prices.items() if r.startswith("gpu:") and r[4:]}
    if gpus:
        out = {k: v for k, v in out.items() if not k.casefold().startswith("gres/gpu")}
        for model in sorted(gpus):
            out[f"GRES/gpu:{model}"] = weight_of(gpus[model])
    return out


def gpu_resource(model: str | None) -> str:
    return f"gpu:{(model or '').lower()}"


def prices_at(at: datetime | None = None) -> dict[str, Decimal]:
    """Resource → hourly price in force at `at` (now by default); unpriced resources are absent."""
    at = at or db.utcnow()
    rows = db.session.scalars(
        select(Price).where(Price.effective_from <= at).order_by(Price.effective_from, Price.id)
    )
    return {row.resource: Decimal(row.hourly) for row in rows}  # later rows win


@dataclass(frozen=True)
class Rate:
    """The price of one hour of a request."""

    hourly: Decimal  # what the wallet charges per hour: whole billing units / SCALE
    billing: Decimal  # Slurm's billing units, unrounded (what its budget counts)
    partition: str | None
    weights: dict[str, str] = field(default_factory=dict)
    known: bool = True  # False: no weights and no prices known yet (hourly is 0)

    def as_dict(self) -> dict:
        return {"hourly": str(self.hourly), "billing": str(self.billing),
                "partition": self.partition, "billing_weights": self.weights,
                "known": self.known}


def partition_for(view: Mapping | None, gpu_model: str | None, gpu_count: int, *,
                  cpu_partition: str | None = None) -> str | None:
    """The partition a request goes to: for GPUs the first partition (the default one
    first) with a node of that model; without GPUs `cpu_partition` when the cluster has
    it. None: Slurm's default partition."""
    view = view or {}
    parts = sorted(view.get("partitions") or [], key=lambda p: not p.get("default"))
    if gpu_count:
        with_model = {n["name"] for n in view.get("nodes") or []
                      if gpu_model in (n.get("gpus") or {})}
        return next((p["name"] for p in parts if with_model & set(p.get("nodes") or [])),
                    None)
    if cpu_partition and cpu_partition in {p["name"] for p in parts}:
        return cpu_partition
    return None


def partition_record(view: Mapping | None, partition: str | None) -> Mapping | None:
    """The cached record of `partition` (None: the default partition), or None."""
    parts = list((view or {}).get("partitions") or [])
    if partition:
        return next((p for p in parts if p.get("name") == partition), None)
    return next((p for p in parts if p.get("default")), parts[0] if parts else None)


def slurm_weights(view: Mapping | None, partition: str | None) -> dict[str, str] | None:
    """The partition's weights as the cache read them; None when not known (no snapshot,
    or one taken before the cache kept weights, or text that cannot be read)."""
    from adapters.factory import parse_weights

    record = partition_record(view, partition)
    if record is None or "billing_weights" not in record:
        return None
    try:
        return parse_weights(record.get("billing_weights") or "")
    except ValueError:
        return None


def weights_for(view: Mapping | None, partition: str | None,
                at: datetime | None = None) -> tuple[dict[str, str], bool]:
    """(the weights Slurm bills this partition with, whether they are known)."""
    prices = prices_at(at)
    have = slurm_weights(view, partition)
    if have is None:
        return (desired_weights({}, prices), bool(prices))
    return (desired_weights(have, prices) if prices and applying() else have, True)


def _number(value: str) -> tuple[Decimal, str]:
    unit = value[-1].upper() if value[-1:].isalpha() else ""
    return Decimal(value[: len(value) - len(unit)] if unit else value), unit


def billing_units(weights: Mapping[str, str], *, cpus: int, mem_gb: int | float,
                  gpu_model: str | None, gpu_count: int, nodes: int = 1) -> Decimal:
    """Σ weight × TRES as Slurm computes a job's billing (unrounded). No weights at all:
    Slurm bills the CPUs."""
    if not weights:
        return Decimal(int(cpus))
    counts = {"cpu": Decimal(int(cpus)), "mem": Decimal(str(mem_gb)) * 1024,
              "node": Decimal(int(nodes)), "gres/gpu": Decimal(int(gpu_count))}
    if gpu_count and gpu_model:
        counts[f"gres/gpu:{gpu_model.lower()}"] = Decimal(int(gpu_count))
    total = Decimal(0)
    for key, value in weights.items():
        name = key.casefold()
        if name not in counts:
            continue  # licences, energy, other GRES or GPU models: nothing this asks for
        weight, unit = _number(value)
        if name == "mem":
            weight = weight / Decimal(_MEM_UNIT_MB.get(unit, 1))
        total += weight * counts[name]
    return total


def rate(gpu_model: str | None, gpu_count: int, cpus: int, mem_gb: int | float = 0, *,
         partition: str | None = None, view: Mapping | None = None,
         at: datetime | None = None, nodes: int = 1) -> Rate:
    """What one hour of this request costs in `partition` (None: the default partition).
    `view` is the cached cluster view (read when not given). GPUs, CPUs and memory are
    per node: a `nodes`-node job is billed for all of them, as Slurm bills it."""
    from portal.services import cluster

    if view is None:
        view = cluster.cached_view()
    weights, known = weights_for(view, partition, at)
    n = max(1, int(nodes or 1))
    units = billing_units(weights, cpus=(cpus or 0) * n, mem_gb=(mem_gb or 0) * n,
                          gpu_model=gpu_model, gpu_count=(gpu_count or 0) * n, nodes=n)
    hourly = (Decimal(math.floor(units)) / billing_scale()).quantize(PLACES, ROUND_HALF_UP)
    return Rate(hourly if known else Decimal(0).quantize(PLACES), units, partition,
                dict(weights), known)


def hourly_price(gpu_model: str | None, gpus: int, cpus: int, mem_gb: int | float = 0, *,
                 partition: str | None = None, at: datetime | None = None,
                 nodes: int = 1) -> Decimal:
    """What one hour of this spec is charged (see the module doc)."""
    return rate(gpu_model, gpus, cpus, mem_gb, partition=partition, at=at, nodes=nodes).hourly
