"""Cloud-platform activation (F11): is the user's cluster side ready, and provision it.

Three kinds of items: the Unix account resolves (pwd), the Slurm association
(user, account) exists for each of the user's projects (sacctmgr, as the operator), and
the workspace directory (config WORKSPACE, default the home) exists, is owned by the user
and is not writable by group or others. `activate` provisions what is missing as the
operator; a Unix account that does not resolve cannot be made here (the admin must).

The rule for sessions, jobs and schedules (`require_activated`): a user is activated once
every check passed; that is cached in `activations.activated_at`. A user without that
mark is checked lazily at their next create (so users whose cluster side is ready never
notice), and refused with the reasons when a check fails. Once activated, a user stays
activated (later checks only show what needs repair). Users who existed before this
feature are marked activated by the 0008 migration. `ACTIVATION_REQUIRED = false` turns the
rule off (the unit tests' fake clusters do this).
"""

from __future__ import annotations

from flask import current_app, has_app_context, url_for
from flask_babel import lazy_gettext as _l

from adapters import factory, unix
from adapters import workspace as ws
from adapters.errors import AdapterError
from adapters.factory import CommandRunner
from portal import db
from portal.models import Activation, User
from portal.services import ServiceError, audit
from portal.services.project_slurm import get_accounts
from portal.services.users import user_projects

UNIX, ASSOCIATION, WORKSPACE = "unix", "association", "workspace"

PROBLEM_TEXT = {
    "missing": _l("The directory does not exist."),
    "not_a_directory": _l("The path exists but is not a directory."),
    "wrong_owner": _l("The directory is owned by another user."),
    "writable_by_others": _l("The directory is writable by group or others."),
}


def _check(item: str, target: str, ok: bool, detail: str = "") -> dict:
    return {"item": item, "target": target, "ok": bool(ok), "detail": str(detail)}


def workspace_path(home: str, unix_user: str) -> str:
    pattern = current_app.config.get("WORKSPACE", "{home}") if has_app_context() else "{home}"
    return pattern.format(home=home, user=unix_user)


def run_checks(user: User) -> list[dict]:
    """Every item, in order: Unix account, one association per project, workspace."""
    checks: list[dict] = []
    name = user.unix_user or ""
    account = unix.lookup(name) if name else None
    checks.append(_check(UNIX, name, account is not None,
                         "" if account else _l("Not found: contact an administrator.")))
    memberships = user_projects(user)
    if memberships and name:
        try:
            adapter = get_accounts()
            for membership in memberships:
                slurm_account = membership.project.account
                users = {a.user for a in adapter.associations(slurm_account)}
                ok = name in users
                checks.append(_check(ASSOCIATION, slurm_account, ok,
                                     "" if ok else _l("Missing in Slurm.")))
        except (AdapterError, ValueError) as exc:
            for membership in memberships:
                checks.append(_check(ASSOCIATION, membership.project.account, False,
                                     _l("Slurm did not answer: %(error)s", error=str(exc))))
    if account is not None:
        state = ws.inspect(workspace_path(account.home, name))
        problem = state.problem(account.uid)
        checks.append(_check(WORKSPACE, state.path, problem is None,
                             PROBLEM_TEXT.get(problem, "") if problem else ""))
    else:
        checks.append(_check(WORKSPACE, "", False, _l("Needs the Unix account first.")))
    return checks


def get_state(user: User) -> Activation | None:
    return db.session.get(Activation, user.id)


def refresh(user: User) -> Activation:
    """Check every item now and store the result; the first time all pass activates.

    Activation is kept when a later check fails (the page then shows what to repair):
    viewing the page must never lock out a user who was working, and Slurm itself still
    refuses work in an account without the association.
    """
    checks = run_checks(user)
    state = get_state(user) or Activation(user_id=user.id)
    state.checks = checks
    state.checked_at = db.utcnow()
    if all(c["ok"] for c in checks) and state.activated_at is None:
        state.activated_at = state.checked_at
    db.session.add(state)
    db.session.commit()
    return state


def activate(user: User) -> Activation:
    """Provision what is missing (as the operator), then check again.

    Raises ServiceError("no_unix_account") when the Unix account does not resolve.
    Each provisioning step is recorded in the operation log.
    """
    name = user.unix_user or ""
    account = unix.lookup(name) if name else None
    if account is None:
        refresh(user)
        raise ServiceError(
            _l("Your Unix account %(name)s does not exist: contact the administrator.",
               name=name or "—"), "no_unix_account")
    done: list[str] = []
    errors: list[str] = []
    for check in run_checks(user):
        if check["ok"]:
            continue
        try:
            if check["item"] == ASSOCIATION:
                get_accounts().add_user(name, check["target"])
                done.append(f"association:{check['target']}")
            elif check["item"] == WORKSPACE:
                ws.provision(_runner(), check["target"], name, account.gid)
                done.append(f"workspace:{check['target']}")
        except (AdapterError, ValueError) as exc:
            errors.append(f"{check['item']}:{check['target']}: {exc}")
    state = refresh(user)
    audit.record("activation.activate", f"user:{user.username}", provisioned=done,
                 errors=errors, activated=state.activated_at is not None)
    if errors:
        raise ServiceError(
            _l("Some items could not be provisioned: %(errors)s", errors="; ".join(errors)),
            "activation_failed")
    return state


def _runner() -> CommandRunner:
    return factory.make_runner(current_app.config)


def is_required() -> bool:
    return bool(current_app.config.get("ACTIVATION_REQUIRED", True))


def require_activated(user: User) -> None:
    """Raise ServiceError("not_activated") (with the page's link) unless `user` is activated.

    Cached: a user once activated is not checked again here; otherwise checked now.
    """
    if not is_required():
        return
    state = get_state(user)
    if state is not None and state.activated_at is not None:
        return
    state = refresh(user)
    if state.activated_at is not None:
        return
    missing = ", ".join(f"{c['item']} {c['target']}".strip() for c in state.checks if not c["ok"])
    raise ServiceError(
        _l("Your cloud platform account is not activated (%(missing)s). Activate it on "
           "%(url)s first.", missing=missing, url=_page_url()),
        "not_activated",
    )


def _page_url() -> str:
    """The activation page's address (the path alone outside a request, e.g. the CLI)."""
    from flask import has_request_context

    if has_request_context():
        return url_for("account.activation")
    return "/account/activation"
