"""First-run setup: the first admin, and the dev cluster's demo users and projects."""

from __future__ import annotations

from sqlalchemy import select

from adapters import unix
from portal import db
from portal.models import Membership, Project, ProjectRole, User
from portal.services import users

# Mirrors etc/devcluster/cluster.sh: Slurm accounts and their users (first user: manager).
DEMO_PROJECTS = {
    "proja": ("Project A", ["alice", "bob"]),
    "projb": ("Project B", ["bob", "carol"]),
}


def ensure_admin(username: str) -> tuple[str, str] | None:
    """Create the first platform admin unless one exists; returns (name, password) if created."""
    if db.session.scalar(select(User).where(User.is_admin.is_(True)).limit(1)):
        return None
    unix_user = username if unix.lookup(username) else None
    user, password = users.create_user(
        username, unix_user=unix_user, is_admin=True, require_unix=False
    )
    return user.username, password


def ensure_demo() -> dict[str, str]:
    """Portal users for the demo Unix accounts that exist, and their projects; new passwords."""
    created: dict[str, str] = {}
    for account, (title, members) in DEMO_PROJECTS.items():
        project = db.session.scalar(select(Project).where(Project.account == account))
        if project is None:
            project = Project(account=account, name=title)
            db.session.add(project)
            db.session.commit()
        for index, name in enumerate(members):
            if unix.lookup(name) is None:
                continue
            user = db.session.scalar(select(User).where(User.username == name))
            if user is None:
                user, created[name] = users.create_user(name)
            exists = db.session.scalar(
                select(Membership).where(
                    Membership.user_id == user.id, Membership.project_id == project.id
                )
            )
            if exists is None:
                role = ProjectRole.MANAGER if index == 0 else ProjectRole.MEMBER
                db.session.add(Membership(user_id=user.id, project_id=project.id, role=role))
                db.session.commit()
    return created
