"""OpenAPI paths and schemas of /wallet (F11), merged into portal.api.openapi's PATHS and
SCHEMAS when portal.api.wallet loads."""

from __future__ import annotations

from portal.api.openapi import _errors, _ok


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


PROJECT = [{"name": "project_id", "in": "path", "required": True,
            "schema": {"type": "integer"}}]
QUERY = [
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "First day (UTC), inclusive"},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "Last day (UTC), inclusive"},
    {"name": "type", "in": "query", "schema": {"type": "string", "enum": ["topup", "charge"]}},
    {"name": "service", "in": "query",
     "schema": {"type": "string", "enum": ["session", "job", "schedule", "shell"]}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                "maximum": 5000, "default": 500}},
]
MONEY = {"type": "string", "description": "Decimal amount, e.g. \"12.50\""}
TEXT = {"type": ["string", "null"]}

WALLET_PATHS: dict = {
    "/wallet": {
        "get": {"summary": "Balances of your projects (admins: all) and their Slurm budgets",
                "responses": {"200": _ok({"type": "array", "items": _ref("Wallet")}),
                              **_errors(401)}},
    },
    "/wallet/{project_id}": {
        "get": {"summary": "One project's wallet: balance, budget, transactions (newest "
                           "first) filtered by time range, type and service",
                "parameters": PROJECT + QUERY,
                "responses": {"200": _ok(_ref("WalletDetail")), **_errors(400, 401, 404)}},
    },
    "/wallet/{project_id}/topups": {
        "post": {"summary": "Admins: add money (a positive amount, at most 2 decimals); the "
                            "project's Slurm budget (GrpTRESMins=billing) follows",
                 "parameters": PROJECT,
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"type": "object", "required": ["amount"], "properties": {
                         "amount": {"type": ["string", "number"]},
                         "note": {"type": "string", "maxLength": 500}}}}}},
                 "responses": {"201": _ok(_ref("WalletTransaction"), "Created"),
                               **_errors(400, 401, 403, 404)}},
    },
}

WALLET_SCHEMAS: dict = {
    "Budget": {"type": "object", "properties": {
        "enforced": {"type": "boolean"}, "why_not": TEXT,
        "limit_billing_minutes": {"type": ["integer", "null"]},
        "used_billing_minutes": {"type": ["integer", "null"]},
        "left_billing_minutes": {"type": ["integer", "null"]},
        "left": TEXT, "synced_at": TEXT, "error": TEXT}},
    "Wallet": {"type": "object", "properties": {
        "project_id": {"type": "integer"}, "account": {"type": "string"},
        "name": {"type": "string"}, "balance": MONEY, "budget": _ref("Budget")}},
    "WalletTransaction": {"type": "object", "properties": {
        "id": {"type": "integer"}, "type": {"type": "string", "enum": ["topup", "charge"]},
        "amount": MONEY, "at": {"type": "string"}, "recorded_at": {"type": "string"},
        "service": TEXT, "job_id": TEXT, "user": TEXT, "qos": TEXT,
        "billing": {"type": "integer"}, "elapsed_s": {"type": "integer"},
        "order_id": {"type": ["integer", "null"]}, "by": TEXT, "note": TEXT}},
    "WalletDetail": {"allOf": [_ref("Wallet"), {"type": "object", "properties": {
        "filters": {"type": "object"},
        "totals": {"type": "object", "properties": {
            "count": {"type": "integer"}, "topups": MONEY, "charges": MONEY}},
        "truncated": {"type": "boolean"},
        "transactions": {"type": "array", "items": _ref("WalletTransaction")}}}]},
}


def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(WALLET_PATHS)
    SCHEMAS.update(WALLET_SCHEMAS)
