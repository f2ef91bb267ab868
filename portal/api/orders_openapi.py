"""OpenAPI paths and schemas of /orders and /approvals (F11), merged into
portal.api.openapi's PATHS and SCHEMAS when portal.api.orders loads."""

from __future__ import annotations

from portal.api.openapi import _errors, _ok
from portal.api.schemas import components, orders


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


ORDER_ID = [{"name": "order_id", "in": "path", "required": True,
             "schema": {"type": "integer"}}]
RANGE = [
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "First day (UTC), inclusive; default 30 days before `to`"},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "Last day (UTC), inclusive; default today. At most 366 days in all"},
    {"name": "kind", "in": "query",
     "schema": {"type": "string", "enum": ["session", "job", "scheduled"]}},
    {"name": "approval", "in": "query",
     "schema": {"type": "string", "enum": ["none", "pending", "approved", "rejected",
                                           "closed"]}},
]
_ERROR = {"application/json": {"schema": _ref("Error")}}
MORE = {
    "409": {"description": "Already decided, or the job no longer waits in Slurm "
                           "(already_decided, job_gone)", "content": _ERROR},
    "502": {"description": "Slurm refused (slurm_rejected)", "content": _ERROR},
    "503": {"description": "Slurm did not answer (slurm_unavailable)", "content": _ERROR},
}

ORDER_PATHS: dict = {
    "/orders": {
        "get": {"summary": "Your orders (managers: also their projects'; admins: all) in a "
                           "time range, newest first",
                "parameters": RANGE,
                "responses": {"200": _ok({"type": "array", "items": _ref("Order")}),
                              **_errors(400, 401)}},
    },
    "/orders/{order_id}": {
        "get": {"summary": "One order with its history", "parameters": ORDER_ID,
                "responses": {"200": _ok(_ref("Order")), **_errors(401, 404)}},
    },
    "/approvals": {
        "get": {"summary": "Requests waiting for your decision (project managers; admins: "
                           "all)",
                "responses": {"200": _ok({"type": "array", "items": _ref("Order")}),
                              **_errors(401)}},
    },
    "/approvals/{order_id}/approve": {
        "post": {"summary": "Approve: Slurm releases the held job (not your own request, "
                            "unless you are an admin)",
                 "parameters": ORDER_ID,
                 "responses": {"200": _ok(_ref("Order")),
                               **_errors(400, 401, 403, 404), **MORE}},
    },
    "/approvals/{order_id}/reject": {
        "post": {"summary": "Reject with a message for the requester: the job is cancelled",
                 "parameters": ORDER_ID,
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": _ref("RejectInput")}}},
                 "responses": {"200": _ok(_ref("Order")),
                               **_errors(400, 401, 403, 404), **MORE}},
    },
}

def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(ORDER_PATHS)
    SCHEMAS.update(components(orders.OUTPUTS, orders.INPUTS))
