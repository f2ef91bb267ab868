"""Idle-policy tests: the projects tests' world (fake sacctmgr, admin ada, manager mia,
member max, project tproj) and a look at the policy as the portal keeps it."""

from __future__ import annotations

import pytest

from portal import db
from portal.models import AuditEvent
from portal.services import idle
from tests.unit.projects.conftest import fake, people, project  # noqa: F401 - fixtures


@pytest.fixture
def policy_state(app):
    """policy_state(project_id): the project's idle policy now, and how many changes of
    idle policies the audit log holds."""
    def state(project_id):
        with app.app_context():
            audits = db.session.query(AuditEvent).filter_by(
                action="project.idle_policy").count()
            return idle.policy_view(project_id), audits

    return state
