"""F5 GPU rental overview: GPUs allocated per hour over the past days, per GPU model."""

from flask import Blueprint

bp = Blueprint("gpu_usage", __name__, url_prefix="/gpu-usage")

from portal.gpu_usage import routes  # noqa: E402,F401
