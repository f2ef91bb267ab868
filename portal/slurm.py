"""The one place the portal builds its Slurm adapter from configuration."""

from __future__ import annotations

from adapters.runner import CommandRunner
from adapters.scheduler import SlurmScheduler


def make_scheduler(config) -> SlurmScheduler:
    """A scheduler configured from a Flask config mapping (or any dict)."""
    runner = CommandRunner(
        run_as_prefix=config.get("RUN_AS_PREFIX"),
        timeout=float(config.get("COMMAND_TIMEOUT") or 30.0),
    )
    return SlurmScheduler(runner=runner, bin_dir=config.get("SLURM_BIN_DIR"))
