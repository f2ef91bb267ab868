"""`portal accounts check [--fix]`: where the portal database and sacctmgr disagree.

Someone may edit Slurm by hand (`sacctmgr add user …`, a changed QOS). `check` lists every
difference between each project's intent and Slurm's accounts, associations,
coordinators and QOS; `fix` reconciles them in the direction the admin chooses:

- from "portal": Slurm is made to match the portal (sacctmgr changes). Accounts the portal
  does not manage are reported, never removed.
- from "slurm": the portal is made to match Slurm (database changes): memberships, roles,
  limits, attached QOS and the blocked state are copied; unmanaged accounts are imported.
  A project whose account is gone from Slurm is reported, not deleted (its history stays).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import select

from adapters.errors import AdapterError
from portal import db
from portal.models import Project, ProjectRole
from portal.services import project_slurm as ps
from portal.services.approvals import approved_account
from portal.services.projects import _audit

DIRECTIONS = ("portal", "slurm")
IGNORED_ACCOUNTS = frozenset({"root"})


@dataclass
class Difference:
    account: str
    kind: str  # see KINDS
    detail: str
    portal: object = None
    slurm: object = None
    outcome: str = ""  # after a fix: "fixed", or why not

    def as_dict(self) -> dict:
        return asdict(self)


KINDS = ("missing_account", "unmanaged_account", "missing_member", "extra_member",
         "missing_coordinator", "extra_coordinator", "missing_qos", "qos_limits", "qos_list",
         "blocked", "approval_cap")


@dataclass
class SlurmState:
    accounts: dict
    assocs: dict  # account → {"own": Association | None, "users": {name: Association}}
    qos: dict
    # account → its own association's MaxTRES (the approval cap); None: not read.
    caps: dict | None = None


def read_state(accounts) -> SlurmState:
    """Everything `check` compares, in three sacctmgr calls. Raises AdapterError."""
    assocs: dict = {}
    for assoc in accounts.associations():
        entry = assocs.setdefault(assoc.account, {"own": None, "users": {}})
        if assoc.user is None:
            entry["own"] = assoc
        else:
            entry["users"][assoc.user] = assoc
    caps = accounts.max_tres() if hasattr(accounts, "max_tres") else None
    return SlurmState({a.name: a for a in accounts.accounts()}, assocs,
                      {q.name: q for q in accounts.qos()}, caps)


def _limits(record) -> dict:
    return {"GrpTRES": record.grp_tres, "MaxTRESPerUser": record.max_tres_per_user,
            "MaxWall": record.max_wall}


def _wanted_limits(project: Project) -> dict:
    return {"GrpTRES": ps.project_tres(project), "MaxTRESPerUser": ps.per_user_tres(project),
            "MaxWall": project.max_wall_minutes}


def check_project(project: Project, state: SlurmState) -> list[Difference]:
    """The differences of one project."""
    account = project.account
    if account not in state.accounts:
        return [Difference(account, "missing_account", "no Slurm account", account, None)]
    diffs = []
    entry = state.assocs.get(account, {"own": None, "users": {}})
    # A deactivated user keeps their membership (history) but no association (issue #16).
    members = {m.user.unix_user: m for m in project.memberships
               if m.user.unix_user and m.user.is_enabled}
    for user in sorted(set(members) - set(entry["users"])):
        diffs.append(Difference(account, "missing_member", f"{user} has no association", user))
    for user in sorted(set(entry["users"]) - set(members)):
        diffs.append(Difference(account, "extra_member", f"{user} is not a member", None, user))
    wanted = {u for u, m in members.items() if m.role == ProjectRole.MANAGER}
    coords = set(state.accounts[account].coordinators)
    for user in sorted(wanted - coords):
        diffs.append(Difference(account, "missing_coordinator", f"{user} is no coordinator",
                                user))
    for user in sorted(coords - wanted):
        diffs.append(Difference(account, "extra_coordinator", f"{user} is a coordinator",
                                None, user))
    diffs += _check_qos(project, state, entry["own"])
    own = entry["own"]
    blocked = own is not None and own.grp_jobs == 0 and own.grp_submit == 0
    if blocked != project.is_blocked:
        diffs.append(Difference(account, "blocked", "blocked state differs",
                                project.is_blocked, blocked))
    if state.caps is not None:  # the approval threshold: MaxTRES=gres/gpu=<n> (approvals)
        cap = state.caps.get(account, {}).get("gres/gpu")
        if cap != project.approval_threshold:
            diffs.append(Difference(account, "approval_cap",
                                    "per-job GPU cap (approval threshold) differs",
                                    project.approval_threshold, cap))
    return diffs


def _check_qos(project: Project, state: SlurmState, own) -> list[Difference]:
    if not project.qos_name:
        return []
    account, name = project.account, project.qos_name
    if name not in state.qos:
        return [Difference(account, "missing_qos", f"no QOS {name}", name)]
    diffs = []
    have, want = _limits(state.qos[name]), _wanted_limits(project)
    if have != want:
        diffs.append(Difference(account, "qos_limits", f"limits of {name} differ", want, have))
    listed = (sorted(own.qos), own.default_qos) if own else ([], None)
    wanted = (sorted(ps.qos_list(project)), name)
    if listed != wanted:
        diffs.append(Difference(account, "qos_list", "QOS list or default differs",
                                list(wanted), list(listed)))
    return diffs


def check(accounts=None, only: list[str] | None = None) -> list[Difference]:
    """Every difference (of the accounts in `only`, when given). Raises AdapterError."""
    accounts = accounts or ps.get_accounts()
    state = read_state(accounts)
    projects = list(db.session.scalars(select(Project).order_by(Project.account)))
    diffs = []
    for project in projects:
        if only is None or project.account in only:
            diffs += check_project(project, state)
    known = {p.account for p in projects} | IGNORED_ACCOUNTS
    known |= {approved_account(p.account) for p in projects}  # approved jobs run there
    for account in sorted(set(state.accounts) - known):
        if only is None or account in only:
            diffs.append(Difference(account, "unmanaged_account",
                                    "a Slurm account the portal does not manage", None, account))
    return diffs


def fix(diffs: list[Difference], direction: str, accounts=None) -> list[Difference]:
    """Apply each difference's fix in `direction` ("portal" or "slurm"); set `outcome`.

    Each fix stands alone (one failure stops nothing else). Raises ValueError for an
    unknown direction.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}")
    from portal.services import accounts_fix

    accounts = accounts or ps.get_accounts()
    state = read_state(accounts)
    apply = accounts_fix.to_slurm if direction == "portal" else accounts_fix.to_portal
    dry = bool(getattr(accounts, "noop", False))  # a dry run changes neither side
    for diff in diffs:
        project = db.session.scalar(select(Project).where(Project.account == diff.account))
        try:
            diff.outcome = apply(accounts, state, project, diff) or "fixed"
            if dry:
                db.session.rollback()
                diff.outcome = "dry run: " + diff.outcome
                continue
            if diff.outcome == "fixed":
                _audit(None, "accounts.fix", diff.account, kind=diff.kind,
                       direction=direction, detail=diff.detail)
            db.session.commit()
        except AdapterError as exc:
            db.session.rollback()
            diff.outcome = f"not fixed: {exc.message}"
    return diffs
