"""/api/v1/gpu-usage?days=7: GPUs allocated per hour, per GPU model (F5).

The token's user sees their projects' accounts, admins the whole cluster; `days` is a
whole number 1..31 (default 7), anything else is a 400 `invalid_days`.
"""

from __future__ import annotations

from flask import g, jsonify, request

from portal.api.auth import token_required
from portal.api.blueprint import bp
from portal.api.gpu_usage_openapi import register
from portal.api.schemas.gpu_usage import GpuUsage
from portal.services import gpu_usage as svc

register()


@bp.get("/gpu-usage")
@token_required
def gpu_usage():
    days = svc.parse_days(request.args.get("days"))
    data = svc.overview(g.api_user, days)
    data["by_hour_of_day"] = svc.by_hour_of_day(data["hours"])
    return jsonify(GpuUsage.dump(data))
