"""`portal wallet list|show|topup`: project wallets from a shell (F11).

Root is the platform operator (admin rights: may top up any project); anyone else acts as
the portal user bound to their Unix account and sees their own projects' wallets. The
same services as the pages and the API (portal.services.wallet).
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import click

from portal.cli_common import bound_user, echo_items, invoking_unix_user, service_context


@contextmanager
def _acting():
    from portal.services.projects import OPERATOR

    with service_context():
        yield OPERATOR if os.geteuid() == 0 else bound_user(invoking_unix_user())


def _project(actor, account: str):
    from portal.services import projects

    return projects.get_by_account(actor, account)


def _wallet_line(w: dict) -> str:
    budget = w["budget"]
    if budget["enforced"] and budget["left_billing_minutes"] is not None:
        slurm = f"Slurm budget left {budget['left_billing_minutes']} billing-minutes"
    else:
        slurm = "not enforced by Slurm" if not budget["enforced"] else "Slurm budget not set yet"
    return f"{w['account']:<16} balance {w['balance']:>14} · {slurm}"


def _tx_line(t: dict) -> str:
    what = (f"job {t['job_id']} ({t['service']}, {t['user']}, billing {t['billing']} × "
            f"{t['elapsed_s']} s)" if t["type"] == "charge"
            else f"by {t['by'] or 'operator'}{': ' + t['note'] if t['note'] else ''}")
    return f"{t['at']}  {t['type']:<6} {t['amount']:>14}  {what}"


@click.group()
def wallet():
    """Project wallets: balances, transactions, top-ups (admins)."""


@wallet.command("list")
@click.option("--json", "as_json", is_flag=True)
def wallet_list(as_json):
    """Balances of your projects (root: all)."""
    from portal.api.wallet import wallet_json
    from portal.services import wallet as svc

    with _acting() as actor:
        projects = svc.visible_projects(actor)
        balances = svc.balances([p.id for p in projects])
        echo_items([wallet_json(p, balances[p.id]) for p in projects], as_json, _wallet_line)


@wallet.command("show")
@click.argument("project")
@click.option("--from", "start", default="", help="First day, YYYY-MM-DD (UTC).")
@click.option("--to", "end", default="", help="Last day, YYYY-MM-DD (UTC), inclusive.")
@click.option("--type", "kind", default="", help="topup or charge.")
@click.option("--service", default="", help="session, job, schedule or shell.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 5000))
@click.option("--json", "as_json", is_flag=True)
def wallet_show(project, start, end, kind, service, limit, as_json):
    """One project's balance, budget and transactions (newest first)."""
    from portal.api.wallet import transaction_json, wallet_json
    from portal.services import wallet as svc

    with _acting() as actor:
        p = _project(actor, project)
        filters = svc.parse_filters({"from": start, "to": end, "type": kind,
                                     "service": service})
        listing = svc.transactions(p, filters, limit)
        data = {**wallet_json(p, svc.balance(p.id)),
                "totals": {"count": listing.count, "topups": str(listing.topups),
                           "charges": str(listing.charges)},
                "transactions": [transaction_json(t) for t in listing.rows]}
        if as_json:
            echo_items(data, True, str)
            return
        click.echo(_wallet_line(data))
        click.echo(f"{listing.count} transactions: top-ups {listing.topups}, "
                   f"charges {listing.charges}")
        for t in data["transactions"]:
            click.echo(_tx_line(t))


@wallet.command("topup")
@click.argument("project")
@click.argument("amount")
@click.option("--note", default="", help="Why (shown in the wallet).")
def wallet_topup(project, amount, note):
    """Admins: add AMOUNT to PROJECT's wallet (the Slurm budget follows)."""
    from portal.services import wallet as svc

    with _acting() as actor:
        p = _project(actor, project)
        tx = svc.top_up(actor, p.id, amount, note)
        click.echo(f"topped up {p.account} by {tx.amount}; balance {svc.balance(p.id)}")


def register(main) -> None:
    main.add_command(wallet)
