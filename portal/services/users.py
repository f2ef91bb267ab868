"""Portal accounts: creation, login, logout, password changes and preferences."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from adapters import unix
from portal import db
from portal.models import Membership, Project, User
from portal.services import NotFound, ServiceError
from portal.services.passwords import (
    generate_password,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)

# Unix and Slurm both accept this; many tools break on anything wider.
USERNAME_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
THEMES = ("light", "dark")


def validate_username(username: str) -> str:
    if not USERNAME_RE.fullmatch(username or ""):
        raise ServiceError(
            _l(
                "A username is 1–32 characters: lower-case letters, digits, '_' or '-', "
                "starting with a letter or '_'."
            ),
            "invalid_username",
        )
    return username


def create_user(
    username: str,
    *,
    unix_user: str | None = None,
    password: str | None = None,
    is_admin: bool = False,
    display_name: str = "",
    email: str = "",
    require_unix: bool = True,
) -> tuple[User, str]:
    """Create a portal user bound to an existing Unix account.

    Returns (user, password); the password is generated when not given.
    Raises ServiceError for a bad or duplicate name, an unknown Unix account or a weak password.
    """
    validate_username(username)
    if unix_user is None and require_unix:
        unix_user = username
    if unix_user is not None:
        validate_username(unix_user)
        if unix.lookup(unix_user) is None:
            raise ServiceError(
                _l("Unix account %(name)s does not exist on this host.", name=unix_user),
                "unknown_unix_user",
            )
    if db.session.scalar(select(User).where(User.username == username)):
        raise ServiceError(_l("User %(name)s already exists.", name=username), "duplicate")
    password = password or generate_password()
    problem = password_problem(password)
    if problem:
        raise ServiceError(problem, "weak_password")
    user = User(
        username=username,
        unix_user=unix_user,
        password_hash=hash_password(password),
        is_admin=is_admin,
        display_name=display_name or username,
        email=email,
    )
    db.session.add(user)
    db.session.commit()
    return user, password


def get_user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(_l("No user %(name)s.", name=username))
    return user


def authenticate(username: str, password: str) -> User | None:
    """The user when the credentials are right, else None — one answer for every failure."""
    user = db.session.scalar(select(User).where(User.username == (username or "")))
    ok = verify_password(user.password_hash if user else None, password or "")
    if not ok or user is None or not user.is_enabled:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = db.utcnow()
    db.session.commit()
    return user


def load_session_user(session_id: str) -> User | None:
    """Flask-Login's loader: `<id>:<session_version>`; an old version is a revoked cookie."""
    try:
        user_id, version = (int(part) for part in session_id.split(":", 1))
    except ValueError:
        return None
    user = db.session.get(User, user_id)
    if user is None or user.session_version != version or not user.is_enabled:
        return None
    return user


def revoke_sessions(user: User) -> None:
    user.session_version += 1
    db.session.commit()


def change_password(user: User, current: str, new: str) -> None:
    """Raises ServiceError when the current password is wrong or the new one is weak."""
    if not verify_password(user.password_hash, current or ""):
        raise ServiceError(_l("The current password is not correct."), "wrong_password")
    problem = password_problem(new or "")
    if problem:
        raise ServiceError(problem, "weak_password")
    user.password_hash = hash_password(new)
    user.session_version += 1
    db.session.commit()


def set_theme(user: User, theme: str) -> None:
    if theme not in THEMES:
        raise ServiceError(_l("Unknown theme."), "invalid_theme")
    user.theme = theme
    db.session.commit()


def set_locale(user: User, locale: str, allowed: list[str]) -> None:
    if locale not in allowed:
        raise ServiceError(_l("Unknown language."), "invalid_locale")
    user.locale = locale
    db.session.commit()


def user_projects(user: User) -> list[Membership]:
    stmt = (
        select(Membership)
        .join(Project)
        .where(Membership.user_id == user.id)
        .order_by(Project.name)
    )
    return list(db.session.scalars(stmt))


def switch_project(user: User, project_id: int) -> Membership:
    """Raises NotFound when the user is not a member of that project."""
    for membership in user_projects(user):
        if membership.project_id == project_id:
            user.current_project_id = project_id
            db.session.commit()
            return membership
    raise NotFound(_l("You are not a member of that project."))


def current_membership(user: User) -> Membership | None:
    memberships = user_projects(user)
    for membership in memberships:
        if membership.project_id == user.current_project_id:
            return membership
    return memberships[0] if memberships else None
