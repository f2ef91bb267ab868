"""Container runtimes (ARCHITECTURE.md decision 7): one interface, Charliecloud and Apptainer.

`make_runtime(name)` picks the implementation from configuration ("charliecloud" on the
dev cluster and in CI, "apptainer" in production).
"""

from adapters.runtime.apptainer import Apptainer
from adapters.runtime.base import Bind, Runtime
from adapters.runtime.charliecloud import Charliecloud

RUNTIMES = {"charliecloud": Charliecloud, "apptainer": Apptainer}


def make_runtime(name: str | None = None, **options) -> Runtime:
    """The runtime called `name` (default Charliecloud). Raises ValueError for unknown names."""
    key = (name or "charliecloud").lower()
    if key not in RUNTIMES:
        raise ValueError(f"unknown container runtime {name!r}; known: {', '.join(RUNTIMES)}")
    return RUNTIMES[key](**options)


__all__ = ["Apptainer", "Bind", "Charliecloud", "RUNTIMES", "Runtime", "make_runtime"]
