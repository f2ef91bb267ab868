"""Unit prices in force at a moment (F11). Orders keep the price of their time; cost
analysis and the wallet price finished work with it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from portal import db
from portal.models.accounting import Price

CPU = "cpu"


def gpu_resource(model: str | None) -> str:
    return f"gpu:{(model or '').lower()}"


def prices_at(at: datetime | None = None) -> dict[str, Decimal]:
    """Resource → hourly price in force at `at` (now by default); unpriced resources are absent."""
    at = at or db.utcnow()
    rows = db.session.scalars(
        select(Price).where(Price.effective_from <= at).order_by(Price.effective_from, Price.id)
    )
    return {row.resource: Decimal(row.hourly) for row in rows}  # later rows win


def hourly_price(gpu_model: str | None, gpus: int, cpus: int,
                 at: datetime | None = None) -> Decimal:
    """What one hour of this spec costs at `at`: GPUs × their model's price + CPUs × CPU price."""
    prices = prices_at(at)
    total = Decimal(cpus) * prices.get(CPU, Decimal(0))
    if gpus:
        total += Decimal(gpus) * prices.get(gpu_resource(gpu_model), Decimal(0))
    return total
