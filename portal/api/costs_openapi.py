"""OpenAPI paths and schemas of /costs and /prices (F11), merged into portal.api.openapi's
PATHS and SCHEMAS when portal.api.costs loads."""

from __future__ import annotations

from portal.api.openapi import _errors, _ok


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


MONEY = {"type": "string", "description": "Decimal amount, e.g. \"12.5000\""}
QUERY = [
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "First day (UTC), inclusive; default: 11 months before the end's month"},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "Last day (UTC), inclusive; default today"},
    {"name": "period", "in": "query",
     "schema": {"type": "string", "enum": ["week", "month", "year"], "default": "month"}},
    {"name": "by", "in": "query", "schema": {
        "type": "string", "enum": ["project", "user", "gpu_model", "service"],
        "default": "project"}},
    {"name": "project", "in": "query", "schema": {"type": "string"},
     "description": "Only this project (its Slurm account)"},
    {"name": "service", "in": "query",
     "schema": {"type": "string", "enum": ["session", "job", "schedule", "shell"]}},
]

COSTS_PATHS: dict = {
    "/costs": {
        "get": {"summary": "Spending per week, month or year by project, user, GPU model or "
                           "service type (cost = billing × elapsed_s / 3600 / scale; a job "
                           "counts when it ended). Your projects; admins: every account.",
                "parameters": QUERY,
                "responses": {"200": _ok(_ref("CostReport")), **_errors(400, 401, 404)}},
    },
    "/prices": {
        "get": {"summary": "Hourly prices in force (CPU, each GPU model) and their Slurm "
                           "billing weights",
                "responses": {"200": _ok({"type": "array", "items": _ref("Price")}),
                              **_errors(401)}},
        "post": {"summary": "Admins: set a resource's hourly price from now on (history kept; "
                            "Slurm's TRESBillingWeights follow)",
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"type": "object", "required": ["resource", "hourly"],
                                "properties": {"resource": {"type": "string",
                                                            "example": "gpu:a100"},
                                               "hourly": {"type": "string",
                                                          "example": "0.10"}}}}}},
                 "responses": {"201": _ok(_ref("Price")), **_errors(400, 401, 403)}},
    },
}

COSTS_SCHEMAS: dict = {
    "CostRow": {"type": "object", "properties": {
        "period": {"type": "string", "description": "2026-11 (month), 2026 (year) or the "
                                                    "Monday of the week, 2026-11-23"},
        "key": {"type": "string", "description": "project account, user, GPU model (\"\" = "
                                                 "no GPU) or service type"},
        "cost": MONEY, "jobs": {"type": "integer"}, "gpu_hours": {"type": "string"},
        "cpu_hours": {"type": "string"}}},
    "CostReport": {"type": "object", "properties": {
        "query": {"type": "object"}, "definition": {"type": "string"},
        "scale": {"type": "string"}, "total": MONEY, "jobs": {"type": "integer"},
        "periods": {"type": "array", "items": {"type": "string"}},
        "keys": {"type": "array", "items": {"type": "string"}},
        "by_key": {"type": "object", "additionalProperties": MONEY},
        "by_period": {"type": "object", "additionalProperties": MONEY},
        "rows": {"type": "array", "items": _ref("CostRow")}}},
    "Price": {"type": "object", "properties": {
        "resource": {"type": "string"}, "hourly": {"type": ["string", "null"]},
        "effective_from": {"type": ["string", "null"]}, "set_by": {"type": ["string", "null"]},
        "billing_weight": {"type": ["string", "null"]}}},
}


def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(COSTS_PATHS)
    SCHEMAS.update(COSTS_SCHEMAS)
