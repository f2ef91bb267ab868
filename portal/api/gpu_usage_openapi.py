"""OpenAPI path and schema of /api/v1/gpu-usage (merged into portal.api.openapi)."""

from __future__ import annotations

from portal.api.openapi import _errors, _ok

NUM = {"type": "number"}
GPU_USAGE_PATHS: dict = {
    "/gpu-usage": {
        "get": {
            "summary": "GPUs allocated per hour over the past days, per GPU model "
                       "(your projects; admins: the whole cluster)",
            "parameters": [{"name": "days", "in": "query", "required": False,
                            "description": "1..31, default 7",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 31,
                                       "default": 7}}],
            "responses": {"200": _ok({"$ref": "#/components/schemas/GpuUsage"}),
                          **_errors(400, 401)},
        }
    }
}
GPU_USAGE_SCHEMAS: dict = {
    "GpuUsage": {
        "type": "object",
        "description": "GPUs allocated in an hour = GPU-seconds allocated in it / 3600.",
        "properties": {
            "days": {"type": "integer"},
            "timezone": {"type": "string", "description": "IANA name the hours are in"},
            "scope": {"type": "string", "enum": ["projects", "cluster"]},
            "accounts": {"type": ["array", "null"], "items": {"type": "string"}},
            "models": {"type": "array", "items": {"type": "string"}},
            "peak_hours": {"type": "object", "properties": {
                "weekdays": {"type": "array", "items": {"type": "integer"},
                             "description": "0 = Monday"},
                "start_hour": {"type": "integer"}, "end_hour": {"type": "integer"}}},
            "hours": {"type": "array", "items": {"type": "object", "properties": {
                "start": {"type": "string", "format": "date-time"},
                "peak": {"type": "boolean"},
                "gpus": {"type": "object", "additionalProperties": NUM},
                "total": NUM}}},
            "by_hour_of_day": {"type": "array", "items": {"type": "object", "properties": {
                "hour": {"type": "integer"}, "average": NUM, "max": NUM,
                "peak_days": {"type": "integer"}, "days": {"type": "integer"}}}},
            "summary": {"type": "object", "properties": {
                "gpu_hours": NUM, "peak_average": NUM, "off_peak_average": NUM,
                "busiest_hour": {"type": ["string", "null"]}, "busiest_gpus": NUM}},
        },
    }
}


def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(GPU_USAGE_PATHS)
    SCHEMAS.update(GPU_USAGE_SCHEMAS)
