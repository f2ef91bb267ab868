"""Project wallets (F11): what /api/v1/wallet answers and accepts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from portal.api.schemas import In, Out
from portal.api.schemas.jobs import ISO, Text

Money = str  # a decimal amount as text, e.g. "12.50": no binary rounding on the way
MONEY = Field(description='Decimal amount, e.g. "12.50"')


class Budget(Out):
    """The project's Slurm budget (GrpTRESMins=billing on its QOS) and whether Slurm
    enforces it (`why_not` says why not)."""

    enforced: bool
    why_not: Text
    limit_billing_minutes: int | None
    used_billing_minutes: int | None
    left_billing_minutes: int | None
    left: Text = Field(description="What is left, as money")
    synced_at: ISO
    error: Text


class Wallet(Out):
    project_id: int
    account: str
    name: str
    balance: Money = MONEY
    budget: Budget


class WalletTransaction(Out):
    id: int
    type: Literal["topup", "charge"]
    amount: Money = MONEY
    at: ISO
    recorded_at: ISO
    service: Text
    job_id: Text
    user: Text
    qos: Text
    billing: int | None
    elapsed_s: int | None
    order_id: int | None
    by: Text
    note: Text


class WalletFilters(Out):
    """The filters in force, as query arguments ("" for none)."""

    from_: str = Field(alias="from")
    to: str
    type: str | None
    service: str | None


class WalletTotals(Out):
    count: int
    topups: Money = MONEY
    charges: Money = MONEY


class WalletDetail(Wallet):
    filters: WalletFilters
    totals: WalletTotals
    truncated: bool
    transactions: list[WalletTransaction]


class TopUpInput(In):
    amount: str | int | float = Field(description="Positive, at most 2 decimals")
    note: str | None = Field(None, max_length=500)


OUTPUTS = [Wallet, WalletDetail, WalletTransaction]
INPUTS = [TopUpInput]
