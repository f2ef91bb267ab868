"""OpenAPI paths of /wallet (F11), merged into portal.api.openapi's PATHS when
portal.api.wallet loads; the schemas come from portal.api.schemas.wallet."""

from __future__ import annotations

from portal.api.openapi import _errors, _ok
from portal.api.schemas import components, wallet


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
                     "schema": _ref("TopUpInput")}}},
                 "responses": {"201": _ok(_ref("WalletTransaction"), "Created"),
                               **_errors(400, 401, 403, 404)}},
    },
}

def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(WALLET_PATHS)
    SCHEMAS.update(components(wallet.OUTPUTS, wallet.INPUTS))
