"""`portal project|qos|accounts …`: projects, QOS and the Slurm check from a shell (F2, F13).

Who acts: root is the platform operator (admin rights); anyone else acts as the portal
user bound to their Unix account, with that user's rights (a manager may change their
project's members, nothing more). The same services as the pages and the API.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager

import click

from portal.cli_common import bound_user, echo_items, invoking_unix_user, service_context

LIMIT_OPTIONS = (
    ("--gpus", "gpu_limit"), ("--cpus", "cpu_limit"), ("--mem-gb", "mem_limit_gb"),
    ("--gpus-per-user", "gpu_per_user"), ("--max-wall-minutes", "max_wall_minutes"),
    ("--idle-minutes", "idle_reclaim_minutes"), ("--start", "start_date"),
    ("--end", "end_date"),
)


@contextmanager
def _acting():
    """An app context and the acting user (OPERATOR for root); exits 1 with a message on
    any refusal."""
    from portal.services.projects import OPERATOR

    with service_context():
        yield OPERATOR if os.geteuid() == 0 else bound_user(invoking_unix_user())


def _limit_options(function):
    for flag, dest in reversed(LIMIT_OPTIONS):
        function = click.option(flag, dest, default=None,
                                help="'none' clears it." if "date" not in dest else "YYYY-MM-DD")(
            function)
    return function


def _settings(kwargs: dict) -> dict:
    out = {dest: kwargs[dest] for _flag, dest in LIMIT_OPTIONS if kwargs.get(dest) is not None}
    return {k: ("" if str(v).lower() == "none" else v) for k, v in out.items()}


def _echo(data, as_json: bool, line) -> None:
    """`echo_items` with dates (anything not JSON) written as str."""
    echo_items(data, as_json, line, default=str)


def _project_line(p: dict) -> str:
    q, u = p["quota"], p["usage"]
    people = ", ".join(m["username"] + ("*" if m["role"] == "manager" else "")
                       for m in p["members"])
    limit = q["gpus"] if q["gpus"] is not None else "-"
    return (f"{p['account']:<16} {p['status']:<8} {p['name']} · ends {p['end_date'] or '-'}"
            f" · GPUs {u['gpus']}/{limit} · members (*manager): {people}")


def _project_dicts(actor, items) -> list[dict]:
    from portal.api.projects import project_json
    from portal.services import project_usage as pu

    jobs, taken_at = pu.cached_jobs()
    usage = pu.usage_by_account(jobs)
    return [project_json(p, actor, usage, taken_at) for p in items]


def _by_account(actor, account: str, manage: bool = False):
    from portal.services import projects

    return projects.get_by_account(actor, account, manage=manage)


@click.group()
def project():
    """Projects (Slurm accounts): list, create, change, members, extensions."""


@project.command("list")
@click.option("--json", "as_json", is_flag=True)
def project_list(as_json):
    """Your projects (root: all) with quota and live usage."""
    from portal.services import projects

    with _acting() as actor:
        _echo(_project_dicts(actor, projects.visible_projects(actor)), as_json, _project_line)


@project.command("show")
@click.argument("account")
@click.option("--json", "as_json", is_flag=True)
def project_show(account, as_json):
    """One project."""
    with _acting() as actor:
        _echo(_project_dicts(actor, [_by_account(actor, account)])[0], as_json, _project_line)


@project.command("create")
@click.argument("account")
@click.option("--name", required=True, help="Display name.")
@click.option("--description", default="")
@_limit_options
@click.option("--members-see-sessions", is_flag=True)
@click.option("--manager", "managers", multiple=True, help="Username (repeatable).")
@click.option("--member", "members", multiple=True, help="Username (repeatable).")
def project_create(account, name, description, members_see_sessions, managers, members,
                   **limits):
    """Create a project: a Slurm account with its own QOS, users and coordinators."""
    from portal.services import projects

    with _acting() as actor:
        settings = {**_settings(limits), "members_see_sessions": members_see_sessions}
        created = projects.create_project(actor, account=account, name=name,
                                          description=description, settings=settings,
                                          managers=list(managers), members=list(members))
        click.echo(f"created {created.account} (QOS {created.qos_name})")


@project.command("set")
@click.argument("account")
@click.option("--name", default=None)
@click.option("--description", default=None)
@_limit_options
@click.option("--members-see-sessions/--members-see-own-sessions", default=None)
@click.option("--qos", "extra_qos", multiple=True, help="Attach an admin QOS (repeatable).")
@click.option("--no-extra-qos", is_flag=True, help="Detach every admin QOS.")
def project_set(account, name, description, members_see_sessions, extra_qos, no_extra_qos,
                **limits):
    """Change a project (managers: name and description; admins: everything)."""
    from portal.services import project_settings, projects

    with _acting() as actor:
        p = _by_account(actor, account, manage=True)
        settings = _settings(limits)
        if members_see_sessions is not None:
            settings["members_see_sessions"] = members_see_sessions
        attach = [] if no_extra_qos else (list(extra_qos) if extra_qos else None)
        if settings or attach is not None:
            project_settings.update_settings(actor, p.id, settings, extra_qos=attach)
        if name is not None or description is not None:
            projects.update_details(actor, p.id, name=name, description=description)
        click.echo(f"updated {account}")


@project.command("add-member")
@click.argument("account")
@click.argument("username")
@click.option("--manager", is_flag=True)
def project_add_member(account, username, manager):
    """Add USERNAME (an association; --manager also makes a coordinator)."""
    from portal.services import projects

    with _acting() as actor:
        p = _by_account(actor, account, manage=True)
        projects.add_member(actor, p.id, username, "manager" if manager else "member")
        click.echo(f"{username} added to {account}")


def _member(p, username: str) -> int:
    from portal.services import NotFound

    for m in p.memberships:
        if m.user.username == username:
            return m.user_id
    raise NotFound(f"{username} is not a member of {p.account}")


@project.command("remove-member")
@click.argument("account")
@click.argument("username")
def project_remove_member(account, username):
    """Remove USERNAME (refused while their jobs are active, or if the last manager)."""
    from portal.services import projects

    with _acting() as actor:
        p = _by_account(actor, account, manage=True)
        projects.remove_member(actor, p.id, _member(p, username))
        click.echo(f"{username} removed from {account}")


@project.command("role")
@click.argument("account")
@click.argument("username")
@click.argument("role", type=click.Choice(["member", "manager"]))
def project_role(account, username, role):
    """Make USERNAME a manager (coordinator) or a plain member."""
    from portal.services import projects

    with _acting() as actor:
        p = _by_account(actor, account, manage=True)
        projects.set_role(actor, p.id, _member(p, username), role)
        click.echo(f"{username} is now {role} of {account}")


@project.command("archive")
@click.argument("account")
@click.option("--reason", default="", help="Why (kept in the audit log).")
def project_archive(account, reason):
    """Admins: cancel the project's jobs and block its account and QOS in Slurm; its
    records and costs stay (issue #16)."""
    from portal.services import lifecycle

    with _acting() as actor:
        done = lifecycle.archive_project(actor, account, reason=reason)
        click.echo(f"archived {account}: blocked {', '.join(done['accounts'])}"
                   + (f" and QOS {done['qos']}" if done["qos"] else "")
                   + f"; cancelled {len(done['cancelled'])} job(s)"
                   + (f" ({', '.join(done['cancelled'])})" if done["cancelled"] else ""))


@project.command("unarchive")
@click.argument("account")
def project_unarchive(account):
    """Admins: lift an archive's blocks (the project's dates then decide)."""
    from portal.services import lifecycle

    with _acting() as actor:
        project = lifecycle.unarchive_project(actor, account)
        click.echo(f"unarchived {account}: {project.status.value}")


@project.command("extend")
@click.argument("account")
@click.argument("days")
@click.option("--reason", default="")
def project_extend(account, days, reason):
    """Ask for DAYS more days (an admin decides)."""
    from portal.services import project_expiry

    with _acting() as actor:
        req = project_expiry.request_extension(actor, _by_account(actor, account).id, days,
                                               reason)
        click.echo(f"extension request {req.id} for {account}: {req.days} days, pending")


@project.command("extensions")
@click.option("--json", "as_json", is_flag=True)
def project_extensions(as_json):
    """Pending extension requests (admins)."""
    from portal.api.projects import extension_json
    from portal.services import Forbidden, project_expiry

    with _acting() as actor:
        if not actor.is_admin:
            raise Forbidden("Only platform administrators decide extension requests.")
        _echo([extension_json(r) for r in project_expiry.pending_requests()], as_json,
              lambda r: f"{r['id']:>4} {r['project']:<16} {r['days']} days by "
                        f"{r['requested_by']}: {r['reason']}")


@project.command("decide")
@click.argument("request_id", type=int)
@click.argument("decision", type=click.Choice(["approve", "reject"]))
@click.option("--message", default="")
def project_decide(request_id, decision, message):
    """Approve (moves the end date, unblocks) or reject an extension request."""
    from portal.services import project_expiry

    with _acting() as actor:
        req = project_expiry.decide(actor, request_id, decision == "approve", message)
        click.echo(f"request {req.id} {req.status.value}; {req.project.account} ends "
                   f"{req.project.end_date}")


@project.command("enforce-expiry")
def project_enforce_expiry():
    """Run the worker's expiry step once: block expired projects, unblock extended ones."""
    from portal.services import Forbidden, project_expiry

    with _acting() as actor:
        if not actor.is_admin:
            raise Forbidden("Only platform administrators run this.")
        click.echo(json.dumps(project_expiry.enforce_expiry()))


def register(main) -> None:
    main.add_command(project)
