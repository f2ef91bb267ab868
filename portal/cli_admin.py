"""`portal qos …` and `portal accounts check [--fix]`: admin verbs (root, or a portal admin)."""

from __future__ import annotations

import json

import click

from portal.cli_common import fail
from portal.cli_projects import _acting, _echo

QOS_OPTIONS = (
    ("--description", "description"), ("--priority", "priority"), ("--gpus", "grp_gpus"),
    ("--gpus-by-model", "grp_gpus_by_model"), ("--cpus", "grp_cpus"),
    ("--mem-gb", "grp_mem_gb"), ("--gpus-per-user", "max_gpus_per_user"),
    ("--cpus-per-user", "max_cpus_per_user"), ("--max-wall-minutes", "max_wall_minutes"),
    ("--max-jobs-per-user", "max_jobs_per_user"),
)


def _qos_options(function):
    for flag, dest in reversed(QOS_OPTIONS):
        function = click.option(flag, dest, default=None, help="'none' clears it.")(function)
    return function


def _values(kwargs: dict) -> dict:
    return {k: ("" if str(v).lower() == "none" else v) for k, v in kwargs.items()
            if v is not None}


def _qos_line(q: dict) -> str:
    limits = {k: v for k, v in q.items() if k.startswith(("grp_", "max_")) and v not in
              (None, {})}
    text = " ".join(f"{k}={v}" for k, v in limits.items()) or "no limits"
    used = ", ".join(q["used_by"]) or "nobody"
    return f"{q['name']:<20} priority {q['priority']} · {text} · used by {used}"


@click.group()
def qos():
    """QOS (admins): list, create, change, delete."""


@qos.command("list")
@click.option("--json", "as_json", is_flag=True)
def qos_list(as_json):
    """Every QOS with its limits and who uses it."""
    from portal.services import qos as service

    with _acting() as actor:
        _echo([q.as_dict() for q in service.list_qos(actor)], as_json, _qos_line)


@qos.command("create")
@click.argument("name")
@_qos_options
def qos_create(name, **values):
    """Create QOS NAME."""
    from portal.services import qos as service

    with _acting() as actor:
        click.echo(_qos_line(service.create_qos(actor, name, _values(values)).as_dict()))


@qos.command("set")
@click.argument("name")
@_qos_options
def qos_set(name, **values):
    """Change QOS NAME's limits."""
    from portal.services import qos as service

    with _acting() as actor:
        click.echo(_qos_line(service.update_qos(actor, name, _values(values)).as_dict()))


@qos.command("delete")
@click.argument("name")
def qos_delete(name):
    """Delete QOS NAME (refused while a project or account uses it)."""
    from portal.services import qos as service

    with _acting() as actor:
        service.delete_qos(actor, name)
        click.echo(f"deleted {name}")


@click.group()
def accounts():
    """The portal database against Slurm's accounts (admins)."""


@accounts.command("check")
@click.option("--account", "only", multiple=True, help="Only this account (repeatable).")
@click.option("--fix", is_flag=True, help="Reconcile the differences found.")
@click.option("--from", "direction", type=click.Choice(["portal", "slurm"]), default=None,
              help="With --fix: 'portal' makes Slurm match the portal, 'slurm' the reverse.")
@click.option("--dry-run", is_flag=True, help="With --fix --from portal: print the sacctmgr "
                                              "commands instead of running them.")
@click.option("--json", "as_json", is_flag=True)
def accounts_check(only, fix, direction, dry_run, as_json):
    """List differences between the portal and sacctmgr; exit 2 when there are some."""
    from adapters.errors import AdapterError
    from portal.services import Forbidden, accounts_sync
    from portal.services import project_slurm as ps

    if fix and direction is None:
        fail("--fix needs --from portal (Slurm follows the portal) or --from slurm")
    with _acting() as actor:
        if not actor.is_admin:
            raise Forbidden("Only platform administrators run this.")
        acc = ps.get_accounts()
        if dry_run:
            acc.noop = True
        try:
            diffs = accounts_sync.check(acc, list(only) or None)
            if fix:
                diffs = accounts_sync.fix(diffs, direction, acc)
        except AdapterError as exc:
            fail(ps.slurm_error(exc))
        _report(diffs, as_json, getattr(acc, "planned", []) if dry_run else [])
        if diffs and not fix:
            raise SystemExit(2)


def _report(diffs, as_json: bool, planned: list) -> None:
    if as_json:
        click.echo(json.dumps({"differences": [d.as_dict() for d in diffs],
                               "planned": [" ".join(a) for a in planned]}, indent=2,
                              default=str))
        return
    for d in diffs:
        outcome = f"  -> {d.outcome}" if d.outcome else ""
        click.echo(f"{d.account:<16} {d.kind:<20} {d.detail}"
                   f" (portal: {d.portal!r}, slurm: {d.slurm!r}){outcome}")
    for argv in planned:
        click.echo("would run: " + " ".join(argv))
    if not diffs:
        click.echo("the portal and Slurm agree")


def register(main) -> None:
    main.add_command(qos)
    main.add_command(accounts)
