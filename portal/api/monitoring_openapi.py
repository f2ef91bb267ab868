"""OpenAPI path and schema of the session metrics API (merged when portal.api.monitoring
is imported)."""

from __future__ import annotations

from portal.api.openapi import _errors, _ok

NUMBERS = {"type": "array", "items": {"type": ["number", "null"]}}

PATHS: dict = {
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

SCHEMAS: dict = {
    "SessionMetrics": {
        "type": "object",
        "properties": {
            "session_id": {"type": "integer"}, "state": {"type": "string"},
            "live": {"type": "boolean", "description": "still running: poll again"},
            "range": {"enum": ["1h", "lifetime"]}, "resolution_s": {"type": "integer"},
            "source": {"type": ["string", "null"],
                       "description": "cgroup2, cgroup1 or proc (the job's processes)"},
            "cpus": {"type": "integer", "description": "cores allocated"},
            "ncpu": {"type": ["integer", "null"]},
            "mem_limit": {"type": "integer", "description": "bytes allocated"},
            "updated_at": {"type": ["string", "null"], "format": "date-time"},
            "gpu": {"type": "object", "properties": {
                "available": {"type": "boolean"},
                "note": {"type": ["string", "null"],
                         "description": "why there are no GPU series, e.g. "
                                        "\"no GPU telemetry on this node\""}}},
            "t": {"type": "array", "items": {"type": "string", "format": "date-time"},
                  "description": "bucket starts (UTC)"},
            "cpu": {**NUMBERS, "description": "cores in use"},
            "mem": {**NUMBERS, "description": "bytes resident"},
            "node_cpu": {**NUMBERS, "description": "% of the node's CPU"},
            "disk_ws": {**NUMBERS, "description": "bytes in the workspace"},
            "disk_scratch": {**NUMBERS, "description": "bytes in container scratch"},
            "net_rx": {**NUMBERS, "description": "bytes/s received (node interfaces)"},
            "net_tx": {**NUMBERS, "description": "bytes/s sent (node interfaces)"},
            "gpu_util": {**NUMBERS, "description": "% mean over the session's GPUs"},
            "gpu_mem": {**NUMBERS, "description": "MiB used"},
            "gpu_mem_total": {**NUMBERS, "description": "MiB"},
        },
    },
}


def register() -> None:
    from portal.api.openapi import PATHS as ALL_PATHS
    from portal.api.openapi import SCHEMAS as ALL_SCHEMAS

    ALL_PATHS.update(PATHS)
    ALL_SCHEMAS.update(SCHEMAS)
