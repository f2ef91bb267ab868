"""Cost tests: people, a project (fake sacctmgr), accounting records, a fake Slurm partition
weights adapter."""

from __future__ import annotations

import pytest

from portal.services import projects
from tests.unit.projects.fake_accounts import FakeAccounts

PEOPLE = {"ada": ("nobody", True), "mia": ("daemon", False), "max": ("bin", False),
          "otto": ("sys", False)}


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
    fake = FakeWeights()
    app.extensions["billing_weights"] = fake
    from portal.services import prices

    prices._last_check["at"] = 0.0
    return fake


@pytest.fixture
def people(make_user):
    return {name: make_user(name, unix_user=unix, admin=admin)
            for name, (unix, admin) in PEOPLE.items()}


@pytest.fixture
def project(app, people):
    app.extensions["accounts"] = FakeAccounts()
    with app.test_request_context("/"):
        created = projects.create_project(
            people["ada"], account="tproj", name="Test Project",
            settings={"end_date": "2099-12-31"}, managers=["mia"], members=["max"])
        return created.id
