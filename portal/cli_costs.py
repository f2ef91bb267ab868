"""`portal price list|set|apply|history` and `portal costs` (F11) from a shell.

Prices are admin business: root (the platform operator) or a portal admin bound to the
invoking Unix account. `portal costs` shows what the caller may see (root: everything).
The same services as the pages and the API (portal.services.prices, portal.services.costs).
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import click

from portal.cli_common import bound_user, echo_items, fail, invoking_unix_user, service_context


@contextmanager
def _acting():
    from portal.services.projects import OPERATOR

    with service_context():
        yield OPERATOR if os.geteuid() == 0 else bound_user(invoking_unix_user())


def _price_line(p: dict) -> str:
    hourly = p["hourly"] if p["hourly"] is not None else "(not set)"
    weight = f"weight {p['billing_weight']}" if p["billing_weight"] else ""
    since = f"since {p['effective_from']}" if p["effective_from"] else ""
    return f"{p['resource']:<16} {hourly:>14} /h  {weight:<14} {since} {p['set_by'] or ''}".rstrip()


@click.group()
def price():
    """Unit prices per CPU-hour and per GPU-hour of a model (also Slurm billing weights)."""


@price.command("list")
@click.option("--json", "as_json", is_flag=True)
def price_list(as_json):
    """Prices in force (CPU and each GPU model the cluster has)."""
    from portal.services import prices

    with _acting():
        echo_items([p.as_dict() for p in prices.current()], as_json, _price_line)


@price.command("history")
@click.option("--json", "as_json", is_flag=True)
def price_history(as_json):
    """Every price change, newest first."""
    from portal.services import prices

    with _acting():
        echo_items([p.as_dict() for p in prices.history()], as_json, _price_line)


@price.command("set")
@click.argument("resource")
@click.argument("amount")
def price_set(resource, amount):
    """Admins: RESOURCE ("cpu" or "gpu:<model>") costs AMOUNT per hour from now on."""
    from portal.services import prices

    with _acting() as actor:
        row = prices.set_price(actor, resource, amount)
        since = row.effective_from.strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{row.resource} costs {row.hourly} per hour from {since} UTC "
                   f"(billing weight {prices.weight_of(row.hourly)})")


@price.command("apply")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
def price_apply(dry_run):
    """Admins: make the partitions' TRESBillingWeights match the prices now."""
    from adapters.errors import AdapterError
    from adapters.factory import format_weights, same_weights
    from portal.services import prices

    with _acting() as actor:
        if not actor.is_admin:
            fail("only administrators apply billing weights")
        try:
            if dry_run:
                for name, (have, want) in prices.plan().items():
                    state = "ok" if same_weights(have, want) else "would change"
                    click.echo(f"{name}: {state}: {format_weights(have) or '(none)'}"
                               + ("" if state == "ok" else f" -> {format_weights(want)}"))
                return
            changed = prices.sync_weights(force=True)
        except AdapterError as exc:
            fail(exc.message)
        click.echo(f"applied to {', '.join(changed)}" if changed else "nothing to change")


@click.command("costs")
@click.option("--from", "start", default="", help="First day, YYYY-MM-DD (UTC).")
@click.option("--to", "end", default="", help="Last day, YYYY-MM-DD (UTC), inclusive.")
@click.option("--period", default="month", type=click.Choice(["week", "month", "year"]))
@click.option("--by", "group", default="project",
              type=click.Choice(["project", "user", "gpu_model", "service"]))
@click.option("--project", default="", help="Only this project (Slurm account).")
@click.option("--json", "as_json", is_flag=True)
def costs_cmd(start, end, period, group, project, as_json):
    """Spending per period and per project, user, GPU model or service type."""
    from portal.services import costs

    with _acting() as actor:
        query = costs.parse_query({"from": start, "to": end, "period": period, "by": group,
                                   "project": project})
        report = costs.report(actor, query)
        if as_json:
            echo_items(report.as_dict(), True, str)
            return
        click.echo(f"{report.query.start} .. {report.query.end} by {period}, {group}: "
                   f"total {report.total} ({report.jobs} jobs)")
        for row in report.rows:
            click.echo(f"{row['period']:<10} {row['key']:<20} {row['cost']:>14} "
                       f"{row['jobs']:>7} jobs {row['gpu_hours']:>10} GPU-h")


def register(main) -> None:
    main.add_command(price)
    main.add_command(costs_cmd)
