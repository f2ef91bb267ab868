"""Costs and prices (F11): what /api/v1/costs and /prices answer and accept."""

from __future__ import annotations

from pydantic import Field

from portal.api.schemas import In, Out
from portal.api.schemas.jobs import ISO, Text
from portal.api.schemas.wallet import Money

COST = Field(description='Decimal amount, e.g. "12.5000"')


class CostQuery(Out):
    """The query in force, with its defaults filled in (null: no such filter)."""

    from_: str = Field(alias="from", json_schema_extra={"format": "date"})
    to: str = Field(json_schema_extra={"format": "date"})
    period: str
    by: str
    project: Text
    service: Text


class CostRow(Out):
    period: str = Field(description="2026-11 (month), 2026 (year) or the Monday of the "
                                    "week, 2026-11-23")
    key: str = Field(description='project account, user, GPU model ("" = no GPU) or '
                                 "service type")
    cost: Money = COST
    jobs: int
    gpu_hours: str
    cpu_hours: str


class CostReport(Out):
    query: CostQuery
    definition: str
    scale: str
    total: Money = COST
    jobs: int
    periods: list[str]
    keys: list[str]
    by_key: dict[str, Money]
    by_period: dict[str, Money]
    rows: list[CostRow]


class Price(Out):
    resource: str
    hourly: Text = Field(description="Per hour, decimal; null: not priced")
    effective_from: ISO
    set_by: Text = Field(None, description="Who set it (not in the POST answer)")
    billing_weight: Text = Field(description="Slurm's TRESBillingWeights for it")


class PriceInput(In):
    """Checked by portal.services.prices.set_price (invalid_resource, invalid_price)."""

    resource: str = Field(examples=["gpu:a100"], description='"cpu" or "gpu:<model>"')
    hourly: str | int | float = Field(examples=["0.10"], description="At least 0, at most "
                                      "4 decimals, at most 1,000,000")


OUTPUTS = [CostReport, Price]
INPUTS = [PriceInput]
