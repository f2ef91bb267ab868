"""OpenAPI path of /api/v1/gpu-usage (merged into portal.api.openapi); the schema comes
from portal.api.schemas.gpu_usage."""

from __future__ import annotations

from portal.api.openapi import _errors, _ok
from portal.api.schemas import components, gpu_usage

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
def register() -> None:
    from portal.api.openapi import PATHS, SCHEMAS

    PATHS.update(GPU_USAGE_PATHS)
    SCHEMAS.update(components(gpu_usage.OUTPUTS, []))
