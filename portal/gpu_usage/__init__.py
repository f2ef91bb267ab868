"""F5 GPU rental overview: GPUs allocated per hour over the past days, per GPU model."""

from portal.gpu_usage import routes  # noqa: F401
from portal.gpu_usage.blueprint import bp  # noqa: F401 - the app registers it
