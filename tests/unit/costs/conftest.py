"""Cost tests: people, a project (fake sacctmgr), accounting records, a fake Slurm partition
weights adapter."""

from __future__ import annotations

import pytest

from tests.support.projectworld import fake, people, project  # noqa: F401 - fixtures


class FakeWeights:
    """Partitions' TRESBillingWeights as slurmctld keeps them."""

    def __init__(self):
        self.parts = {"gpu": {"CPU": "1.0", "Mem": "0.25G", "GRES/gpu": "10.0"},
                      "cpu": {"CPU": "1.0", "Mem": "0.25G", "GRES/gpu": "10.0"}}
        self.sets = []
        self.down = False

    def read(self):
        if self.down:
            from adapters.errors import SlurmUnreachable

            raise SlurmUnreachable("Unable to contact slurm controller", ["scontrol"], "", 1)
        return {k: dict(v) for k, v in self.parts.items()}

    def set(self, partition, weights):
        self.parts[partition] = dict(weights)
        self.sets.append((partition, dict(weights)))


@pytest.fixture
def weights(app):
    adapter = FakeWeights()
    app.extensions["billing_weights"] = adapter
    from portal.services import prices

    prices._last_check["at"] = 0.0
    return adapter
