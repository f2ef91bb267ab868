"""OpenAPI paths of /costs and /prices (F11), merged into portal.api.openapi's PATHS when
portal.api.costs loads; the schemas come from portal.api.schemas.costs."""

from __future__ import annotations

from portal.api.openapi import _errors, _ok
from portal.api.schemas import components, costs


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


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
                     "schema": _ref("PriceInput")}}},
                 "responses": {"201": _ok(_ref("Price")), **_errors(400, 401, 403)}},
    },
}


def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(COSTS_PATHS)
    SCHEMAS.update(components(costs.OUTPUTS, costs.INPUTS))
