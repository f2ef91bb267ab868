"""`portal idle-policy show|set ACCOUNT`: a project's idle-reclaim policy (issue #17 item 2)
from a shell, for platform admins (root, or a portal admin's Unix account), on the same
service as the admin page and the API; audited; a bad value exits 1 and changes nothing.

Times are given in minutes like on the admin page (`--limit-minutes 120 --warn-minutes
60,105`); the JSON output (`--json`) has the API's fields in seconds.
"""

from __future__ import annotations

import click

from portal.cli_projects import _acting, _echo


def _line(view: dict) -> str:
    if not view["enabled"]:
        return f"{view['account']}: idle reclaim off"
    warn = ", ".join(f"{p / 60:g}" for p in view["warn_s"]) or "none"
    return (f"{view['account']}: end after {view['limit_s'] / 60:g} idle minutes; warn at "
            f"{warn} minutes; GPU sessions idle under {view['gpu_threshold']:g} % use")


def _minutes(text: str, what: str) -> float:
    try:
        return float(text) * 60
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a number of minutes", param_hint=what) \
            from None


@click.group("idle-policy")
def idle_policy():
    """Admins: a project's idle reclaim (end sessions nobody uses)."""


@idle_policy.command("show")
@click.argument("account")
@click.option("--json", "as_json", is_flag=True)
def idle_show(account, as_json):
    from portal.services import idle
    from portal.services.projects import get_by_account

    with _acting() as actor:
        if not actor.is_admin:
            from portal.services import Forbidden

            raise Forbidden("Only platform administrators see the idle policy.")
        _echo(idle.policy_view(get_by_account(actor, account).id), as_json, _line)


@idle_policy.command("set")
@click.argument("account")
@click.option("--limit-minutes", required=True,
              help="Idle minutes before a session is ended; 0 switches reclaim off.")
@click.option("--warn-minutes", default="",
              help="Comma-separated idle minutes at which the owner is warned.")
@click.option("--gpu-threshold", default="5", show_default=True,
              help="GPU sessions count as idle under this mean utilisation (%).")
@click.option("--json", "as_json", is_flag=True)
def idle_set(account, limit_minutes, warn_minutes, gpu_threshold, as_json):
    from portal.services import idle
    from portal.services.projects import get_by_account

    limit_s = _minutes(limit_minutes, "--limit-minutes")
    warn_s = [_minutes(p.strip(), "--warn-minutes") for p in warn_minutes.split(",")
              if p.strip()]
    with _acting() as actor:
        project = get_by_account(actor, account)
        idle.set_policy(actor, project.id, limit_s=limit_s, warn_s=warn_s,
                        gpu_threshold=gpu_threshold)
        _echo(idle.policy_view(project.id), as_json, _line)


def register(main: click.Group) -> None:
    main.add_command(idle_policy)
