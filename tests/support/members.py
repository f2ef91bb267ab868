"""Portal users in projects, for the unit and integration tests of jobs and sessions.

Each helper needs an app context and commits what it makes.
"""

from __future__ import annotations

from portal import db
from portal.models import Membership, Project, ProjectRole, User
from portal.services import users
from tests.conftest import PASSWORD


def ensure_project(account: str) -> Project:
    """Project `account` (named after it, in capitals), made if it does not exist yet."""
    project = db.session.query(Project).filter_by(account=account).one_or_none()
    if project is None:
        project = Project(account=account, name=account.upper())
        db.session.add(project)
        db.session.commit()
    return project


def make_member(name="ursula", account="proja", role=ProjectRole.MEMBER, unix_user="nobody"):
    """A new portal user (Unix account `unix_user`) who is a member of project `account`."""
    user, _ = users.create_user(name, unix_user=unix_user, password=PASSWORD)
    project = ensure_project(account)
    db.session.add(Membership(user_id=user.id, project_id=project.id, role=role))
    db.session.commit()
    return user


def add_member(username: str, account: str, role=ProjectRole.MEMBER) -> User:
    """Portal user `username` (Unix account of the same name; made if new) in project
    `account`, which becomes their current project."""
    user = db.session.query(User).filter_by(username=username).one_or_none()
    if user is None:
        user, _ = users.create_user(username, password=PASSWORD)
    project = ensure_project(account)
    db.session.add(Membership(user_id=user.id, project_id=project.id, role=role))
    user.current_project_id = project.id
    db.session.commit()
    return user
