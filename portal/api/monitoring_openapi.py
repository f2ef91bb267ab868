"""OpenAPI path of the session metrics API (F3), merged into portal.api.openapi's PATHS
when portal.api.monitoring loads; the schema comes from portal.api.schemas.monitoring."""

from __future__ import annotations

from portal.api.openapi import _errors, _ok
from portal.api.schemas import components, monitoring

METRICS_PATHS: dict = {
    "/sessions/{session_id}/metrics": {
        "get": {
            "summary": "A session's CPU, memory, disk, network and GPU series (F3 monitoring)",
            "description": "`range=1h`: the session's last hour, one point per sample (10 s). "
                           "`range=lifetime`: its whole life in 60 s buckets (300 s past a "
                           "day). Each point is the mean of its bucket's samples. Same "
                           "permission as GET /sessions/{session_id}.",
            "parameters": [
                {"name": "session_id", "in": "path", "required": True,
                 "schema": {"type": "integer"}},
                {"name": "range", "in": "query", "required": False,
                 "schema": {"enum": ["1h", "lifetime"], "default": "1h"}},
            ],
            "responses": {"200": _ok({"$ref": "#/components/schemas/SessionMetrics"}),
                          **_errors(400, 401, 404)},
        },
    },
}


def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(METRICS_PATHS)
    SCHEMAS.update(components(monitoring.OUTPUTS, []))
