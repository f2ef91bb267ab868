"""OpenAPI path of /audit (F11), merged into portal.api.openapi when portal.api.audit
loads; the schemas come from portal.api.schemas.audit."""

from __future__ import annotations

from portal.api.openapi import _errors, _ok
from portal.api.schemas import audit, components

QUERY = [
    {"name": "from", "in": "query", "schema": {"type": "string"},
     "description": "Start (UTC): YYYY-MM-DD (that day included) or an ISO date-time"},
    {"name": "to", "in": "query", "schema": {"type": "string"},
     "description": "End (UTC): YYYY-MM-DD (that day included) or an ISO date-time"},
    {"name": "actor", "in": "query", "schema": {"type": "string"},
     "description": "Admins: events of this user name"},
    {"name": "action", "in": "query", "schema": {"type": "string"},
     "description": "Exact action (e.g. job.create) or a prefix ending in '.' (job.)"},
    {"name": "q", "in": "query", "schema": {"type": "string"},
     "description": "Text in the target or the details (case-insensitive)"},
    {"name": "ip", "in": "query", "schema": {"type": "string"},
     "description": "Source IP, exact or a prefix ending in '.' or ':'"},
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {"name": "per_page", "in": "query",
     "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
]

AUDIT_PATHS: dict = {
    "/audit": {
        "get": {"summary": "Operation log, newest first: your events (admins: everyone's)",
                "parameters": QUERY,
                "responses": {"200": _ok({"$ref": "#/components/schemas/AuditPage"}),
                              **_errors(400, 401)}},
    },
}

def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(AUDIT_PATHS)
    SCHEMAS.update(components(audit.OUTPUTS, []))
