"""The world of the project, wallet, cost and idle-policy unit tests, written once: a fake
sacctmgr, four people (admin ada, mia, max, otto) and project tproj (made by ada, managed
by mia, with member max). A conftest imports the fixtures it needs from here."""

from __future__ import annotations

import pytest

from portal.services import projects
from tests.unit.projects.fake_accounts import FakeAccounts

# Unix accounts every Debian system has; the fake sacctmgr never checks them anyway.
PEOPLE = {"ada": ("nobody", True), "mia": ("daemon", False), "max": ("bin", False),
          "otto": ("sys", False)}


@pytest.fixture
def fake(app):
    accounts = FakeAccounts()
    app.extensions["accounts"] = accounts
    return accounts


@pytest.fixture
def people(make_user):
    return {name: make_user(name, unix_user=unix, admin=admin)
            for name, (unix, admin) in PEOPLE.items()}


@pytest.fixture
def ctx(app):
    with app.test_request_context("/"):
        yield


def create_tproj(people, **fields) -> int:
    """Project tproj made by ada, managed by mia, with member max (in a request context);
    its id. `fields` add to or replace the defaults (an end date far ahead)."""
    created = projects.create_project(
        people["ada"], **{"account": "tproj", "name": "Test Project",
                          "settings": {"end_date": "2099-12-31"}, "managers": ["mia"],
                          "members": ["max"], **fields})
    return created.id


@pytest.fixture
def project(app, fake, people):
    with app.test_request_context("/"):
        return create_tproj(people)
