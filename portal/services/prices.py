"""Unit prices (F11, F13) and the Slurm billing weights they become (decision 9).

Prices. Admins set an hourly price per CPU ("cpu") and per GPU of a model ("gpu:<model>").
Every change is a new `Price` row (history kept; `pricing.prices_at` reads the one in force)
and an audit event `price.set`. Refused, with nothing changed: text that is not a number,
negative, more than 4 decimals, more than 1,000,000 per hour, or a malformed resource.

Billing scale. A price P per hour is the billing weight W = P × SCALE, where SCALE is
`BILLING_UNITS_PER_CURRENCY` (default 100: a weight is the hourly price in cents). Slurm
then computes, per job, billing = Σ weight × allocated TRES (truncated to an integer), and

    cost = billing × elapsed_s / 3600 / SCALE

which equals Σ price × resources × hours (up to Slurm's truncation of billing). This is
the ONE cost definition: the wallet's charges (wallet.cost_of) and the cost analysis
(costs.py) both use it, from sacct's AllocTRES billing of each job, so a job is priced
with the weights in force when it started, and portal and Slurm agree.

Which weights the portal owns. `CPU` when a CPU price is set; when any GPU price is set,
every `GRES/gpu…` weight is replaced by one `GRES/gpu:<model>=W` per priced model (an
untyped `GRES/gpu` weight next to typed ones would bill each GPU twice; so a GPU model
without a price is then billed 0 — the prices page lists every model). Other weights
(Mem, Node, licences) stay as slurm.conf has them. With no price set at all, the portal
leaves Slurm's weights alone. The dev cluster's slurm.conf says
CPU=1.0,Mem=0.25G,GRES/gpu=10.0, which at SCALE 100 is 0.01 per CPU-hour, 0.10 per GPU-hour
and 0.0025 per GB-hour of memory; `portal price set cpu 0.01` and
`portal price set gpu:a100 0.10` give billing-equivalent weights
(CPU=1,Mem=0.25G,GRES/gpu:a100=10).

Keeping Slurm in line. `scontrol update PartitionName=… TRESBillingWeights=…` is lost at a
slurmctld restart or reconfigure (slurm.conf wins again): set the same weights in
slurm.conf for production. The worker re-reads the partitions' weights every
`BILLING_WEIGHTS_CHECK_SECONDS` (default 300) and re-applies where they differ, and
`portal price apply` does it at once. Applying is on when `BILLING_WEIGHTS_APPLY` is true;
unset, it is on except under TESTING (tests must not change the shared cluster).
`BILLING_PARTITIONS` (comma-separated) limits it to some partitions; default all.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from adapters import factory
from adapters.errors import AdapterError
from adapters.factory import same_weights
from portal import db
from portal.models import Price, User
from portal.services import Forbidden, ServiceError, audit
from portal.services.pricing import (  # noqa: F401 - billing_scale, applying: callers use prices.*
    CPU,
    applying,
    billing_scale,
    desired_weights,
    gpu_resource,
    prices_at,
    weight_of,
)

log = logging.getLogger(__name__)

MAX_PRICE = Decimal("1000000")
PLACES = Decimal("0.0001")
DEFAULT_CHECK_SECONDS = 300.0
_MODEL = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,31}$")
_last_check = {"at": 0.0}


# -- input ------------------------------------------------------------------------------


def parse_price(value: object) -> Decimal:
    """An hourly price: a number ≥ 0 with at most 4 decimals, at most 1,000,000."""
    text = str(value if value is not None else "").strip()
    try:
        amount = Decimal(text) if text.isascii() and text and not isinstance(value, bool) \
            else None
    except (InvalidOperation, ValueError):
        amount = None
    if amount is None or not amount.is_finite():
        raise ServiceError(_l("A price must be a number, for example 0.5 or 12."),
                           "invalid_price")
    if amount < 0:
        raise ServiceError(_l("A price cannot be negative."), "invalid_price")
    if amount > MAX_PRICE:
        raise ServiceError(_l("A price may be at most 1,000,000 per hour."), "invalid_price")
    if amount != amount.quantize(PLACES):
        raise ServiceError(_l("Prices have at most four decimals."), "invalid_price")
    return amount.quantize(PLACES)


def parse_resource(value: object) -> str:
    """ "cpu" or "gpu:<model>" (model: lower-case letters, digits, _ . -)."""
    text = str(value or "").strip().lower()
    if text == CPU:
        return CPU
    if text.startswith("gpu:") and _MODEL.fullmatch(text[4:]):
        return gpu_resource(text[4:])
    raise ServiceError(_l('A resource is "cpu" or "gpu:<model>", for example gpu:a100.'),
                       "invalid_resource")


# -- reading and setting ----------------------------------------------------------------


@dataclass
class PriceView:
    resource: str
    hourly: Decimal | None
    effective_from: datetime | None
    set_by: str | None
    weight: str | None  # the Slurm billing weight this price becomes

    def as_dict(self) -> dict:
        return {"resource": self.resource,
                "hourly": str(self.hourly) if self.hourly is not None else None,
                "effective_from": self.effective_from.isoformat() + "Z"
                if self.effective_from else None,
                "set_by": self.set_by, "billing_weight": self.weight}


def known_gpu_models() -> list[str]:
    """GPU models the cluster cache knows (lower case), and any already priced."""
    from portal.services import cluster

    models: set[str] = set()
    snapshot = cluster.last_good()
    if snapshot is not None and snapshot.data:
        models |= {str(m).lower() for m in
                   (snapshot.data.get("cluster") or {}).get("gpu_models", {}) if m != "gpu"}
    models |= {r[4:] for r in prices_at() if r.startswith("gpu:")}
    return sorted(models)


def current(at: datetime | None = None) -> list[PriceView]:
    """CPU and each known GPU model with its price in force (None: not priced)."""
    rows = {}
    for row in db.session.scalars(select(Price).where(Price.effective_from <= (at or db.utcnow()))
                                  .order_by(Price.effective_from, Price.id)):
        rows[row.resource] = row
    users = _usernames({r.set_by_id for r in rows.values()})
    out = []
    for resource in [CPU, *(gpu_resource(m) for m in known_gpu_models())]:
        row = rows.get(resource)
        out.append(PriceView(resource, Decimal(row.hourly) if row else None,
                             row.effective_from if row else None,
                             users.get(row.set_by_id) if row else None,
                             weight_of(row.hourly) if row else None))
    return out


def history(limit: int = 200) -> list[PriceView]:
    rows = list(db.session.scalars(select(Price).order_by(Price.effective_from.desc(),
                                                          Price.id.desc()).limit(limit)))
    users = _usernames({r.set_by_id for r in rows})
    return [PriceView(r.resource, Decimal(r.hourly), r.effective_from, users.get(r.set_by_id),
                      weight_of(r.hourly)) for r in rows]


def _usernames(ids: set) -> dict:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())


def set_price(actor, resource: object, amount: object, *, apply: bool = True) -> Price:
    """Record a new price (admins only); then bring Slurm's weights in line (best effort:
    a failure is logged and the worker retries). Raises ServiceError/Forbidden."""
    if actor is not None and not getattr(actor, "is_admin", False):
        raise Forbidden(_l("Only administrators set prices."))
    resource, hourly = parse_resource(resource), parse_price(amount)
    old = prices_at().get(resource)
    row = Price(resource=resource, hourly=hourly, effective_from=db.utcnow(),
                set_by_id=getattr(actor, "id", None))
    db.session.add(row)
    audit.record("price.set", resource, actor=actor if getattr(actor, "id", None) else None,
                 commit=False, hourly=str(hourly),
                 previous=str(old) if old is not None else None,
                 billing_weight=weight_of(hourly))
    db.session.commit()
    if apply and applying():
        try:
            sync_weights(force=True)
        except AdapterError as exc:
            log.warning("billing weights not applied: %s", exc.message)
    return row


# -- Slurm billing weights --------------------------------------------------------------


def _partitions_wanted() -> set[str] | None:
    value = current_app.config.get("BILLING_PARTITIONS")
    if not value:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    return {p.strip() for p in items if p.strip()}


def weights_source():
    """The adapter (tests put a fake in app.extensions["billing_weights"])."""
    fake = current_app.extensions.get("billing_weights")
    if fake is not None:
        return fake
    config = current_app.config
    return factory.make_billing_weights(factory.make_scheduler(config), config)


def plan(source=None) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """Partition → (Slurm's weights now, the weights the prices ask for)."""
    source = source or weights_source()
    prices = prices_at()
    wanted = _partitions_wanted()
    return {name: (have, desired_weights(have, prices))
            for name, have in source.read().items() if wanted is None or name in wanted}


def sync_weights(*, force: bool = False, source=None) -> list[str]:
    """Apply the prices' weights where Slurm differs; the partitions changed. At most every
    BILLING_WEIGHTS_CHECK_SECONDS unless `force`. Raises AdapterError."""
    interval = float(current_app.config.get("BILLING_WEIGHTS_CHECK_SECONDS")
                     or DEFAULT_CHECK_SECONDS)
    if not force and time.monotonic() - _last_check["at"] < interval:
        return []
    if not prices_at():
        _last_check["at"] = time.monotonic()
        return []
    source = source or weights_source()
    changed = []
    for name, (have, want) in plan(source).items():
        if not same_weights(have, want):
            source.set(name, want)
            changed.append(name)
            audit.record("price.weights_applied", name, actor=None, commit=False,
                         before=",".join(f"{k}={v}" for k, v in have.items()),
                         after=",".join(f"{k}={v}" for k, v in want.items()))
    db.session.commit()
    _last_check["at"] = time.monotonic()
    if changed:
        log.info("billing weights applied to %s", ", ".join(changed))
    return changed


def worker_step() -> dict:
    """The worker's check: never raises for Slurm."""
    if not has_app_context() or not applying():
        return {}
    try:
        return {"billing_weights_applied": sync_weights()}
    except AdapterError as exc:
        db.session.rollback()
        log.warning("billing weights not checked: %s", exc.message)
        return {"billing_weights_error": exc.message}
