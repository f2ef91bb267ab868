"""What a request will cost, said on the create forms before submit (issue #16).

"This costs X per hour; the wallet covers about N hours" — with X from
portal.services.pricing (Slurm's billing weights: the same number the order records as
its unit price and the wallet charges per hour). For a job, also whether the project's
budget covers its whole time limit: with AccountingStorageEnforce=safe Slurm starts a job
only when time limit × billing fits in what is left of GrpTRESMins=billing, so a long
default limit keeps a job waiting (QOSGrpBillingMinutes) although it would end in time.
That check counts whole billing units per minute (the hourly price's units), while the
usage a running job adds is unrounded (see portal.services.wallet).

The form sends what is typed so far; nothing here refuses a request (the submit does, with
the real rules): a value that cannot be read yet is taken as its default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal.services import ServiceError, cluster, pricing
from portal.services import wallet as walletsvc
from portal.services.jobspec import default_time_limit, parse_time_limit, time_limit_words
from portal.services.prices import billing_scale
from portal.services.requestcheck import project_limits

KINDS = ("job", "session")


def format_money(amount: Decimal | None) -> str:
    """2 decimals, or up to 4 where a price has them ("0.12", "0.1275", "1,234.50")."""
    if amount is None:
        return ""
    value = Decimal(amount).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    text = f"{value:,.4f}"
    return text[:-2] if text.endswith("00") else text.rstrip("0")


def _whole(rate) -> Decimal:
    """The billing units Slurm's start check counts per minute of time limit: whole units
    (measured on Slurm 22.05: 1 CPU + 1 GB at Mem=0.25G, 1.25 units, with 240 minutes
    asked starts under a 240 billing-minute budget and waits under 239)."""
    return Decimal(math.floor(rate.billing))


def _money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def _int(data: Mapping, key: str, default: int, low: int = 0) -> int:
    try:
        return max(low, int(str(data.get(key, default)).strip() or default))
    except (TypeError, ValueError):
        return default


def _minutes(kind: str, data: Mapping, limits: dict, view, partition) -> tuple[int | None, str]:
    """(the time limit the request would get, a problem with what was typed or "")."""
    problem = ""
    minutes = None
    if kind == "job":
        try:
            minutes = parse_time_limit(data, limits)
        except ServiceError as exc:
            problem = str(exc.message)
    elif str(data.get("end") or "") == "hours":
        hours = _int(data, "hours", 0)
        minutes = hours * 60 if hours > 0 else None
    if minutes is None:
        minutes = default_time_limit(limits, view, partition)
    return minutes, problem


def estimate(membership, data: Mapping, kind: str = "job") -> dict:
    """The price of what `data` asks for in the membership's project, and what the wallet
    and the budget say about it. Never raises for what is typed."""
    kind = kind if kind in KINDS else "job"
    project = membership.project
    limits = project_limits(project)
    view = cluster.cached_view()
    gpu_count = _int(data, "gpu_count", 0)
    gpu_model = (str(data.get("gpu_model") or "").strip() or None) if gpu_count else None
    if gpu_count and gpu_model is None:
        models = sorted(m["model"] for m in view.get("gpu_models") or [])
        gpu_model = models[0] if models else None
    cpus, mem_gb = _int(data, "cpus", 1, 1), _int(data, "mem_gb", 4, 1)
    nodes = _int(data, "node_count", 1, 1) if kind == "job" else 1  # per-node sizes
    cpu_partition = current_app.config.get("CPU_PARTITION", "cpu") if kind == "job" else None
    partition = pricing.partition_for(view, gpu_model, gpu_count, cpu_partition=cpu_partition)
    rate = pricing.rate(gpu_model, gpu_count, cpus, mem_gb, partition=partition, view=view,
                        nodes=nodes)
    minutes, problem = _minutes(kind, data, limits, view, partition)
    balance = walletsvc.balance(project.id)
    budget = walletsvc.budget_view(project)
    out = {
        "kind": kind, "project": project.account, "partition": partition,
        "hourly": str(rate.hourly), "hourly_text": format_money(rate.hourly),
        "billing": str(rate.billing), "known": rate.known,
        "balance": str(balance), "covers_hours": None,
        "time_limit_min": minutes, "time_limit_text": time_limit_words(minutes),
        "enforced": budget.enforced, "budget_left": None, "reserve": None, "fits": None,
        "max_minutes_now": None, "time_problem": problem or None, "lines": [],
    }
    out.update(availability(membership, view, partition, gpu_model, gpu_count, cpus, mem_gb,
                            minutes, nodes))
    lines = out["lines"]
    if not rate.known:
        lines.append(("info", _l("The price is not known yet: the portal has not read "
                                 "Slurm's billing weights (its worker does so every "
                                 "cycle).")))
        return _texts(out)
    if rate.hourly > 0 and balance > 0:
        covers = (balance / rate.hourly).quantize(Decimal("0.1"), ROUND_HALF_UP)
        out["covers_hours"] = str(covers)
        lines.append(("info", _l("This costs %(price)s per hour; the wallet (%(balance)s) "
                                 "covers about %(hours)s hours.",
                                 price=format_money(rate.hourly),
                                 balance=format_money(balance), hours=f"{covers:,}")))
    elif rate.hourly > 0:
        lines.append(("warning", _l("This costs %(price)s per hour; the wallet is empty "
                                    "(%(balance)s).", price=format_money(rate.hourly),
                                    balance=format_money(balance))))
    else:
        lines.append(("info", _l("This costs nothing per hour at the current prices.")))
    if problem:
        lines.append(("error", problem))
    _budget_lines(out, kind, rate, minutes, budget)
    return _texts(out)


def availability(membership, view, partition, gpu_model, gpu_count, cpus, mem_gb,
                 minutes, nodes: int = 1) -> dict:
    """Issue #17, item 4: the free GPUs per model from the worker's cached cluster view, and
    when Slurm would start this request (asked by the worker with `sbatch --test-only` as
    the user: portal/services/startest.py; never on this path). `start_pending`: the form
    asks again shortly."""
    from portal.services import startest

    free = [{"model": m["model"], "free": m["free"], "total": m["total"]}
            for m in view.get("gpu_models") or []]
    texts = []
    if free:
        texts.append(str(_l("Free GPUs now: %(list)s.", list=", ".join(
            str(_l("%(model)s %(free)s of %(total)s", **m)) for m in free))))
    start = {"state": "unknown", "text": ""}
    user = membership.user
    if user is not None and user.unix_user:
        spec = startest.spec_of(membership.project.account, partition, gpu_model, gpu_count,
                                cpus, mem_gb, minutes, nodes)
        answer = startest.lookup(user, spec)
        start = {"state": answer["state"], "text": startest.line(answer)[1],
                 "start_at": answer["start_at"].isoformat() + "Z" if answer["start_at"]
                 else None}
        texts.append(start["text"])
        pending = answer["state"] == "pending" or not answer.get("fresh", True)
    else:
        pending = False
    return {"free_gpus": free, "start": start, "start_pending": pending,
            "availability": texts}


def _budget_lines(out: dict, kind: str, rate, minutes: int | None, budget) -> None:
    """Whether Slurm's budget covers the whole time limit (enforced projects only)."""
    lines = out["lines"]
    units = _whole(rate)
    if minutes is None or units <= 0:
        return
    reserve = _money(units * minutes / 60 / billing_scale())
    out["reserve"] = str(reserve)
    what = _l("the job") if kind == "job" else _l("the container")
    if not budget.enforced or budget.left_minutes is None:
        lines.append(("info", _l("With a time limit of %(time)s, %(what)s costs at most "
                                 "%(cost)s.", time=time_limit_words(minutes), what=what,
                                 cost=format_money(reserve))))
        return
    left = budget.left_minutes
    out["budget_left"] = str(budget.left_money)
    fits = units * minutes <= left
    most = int(math.floor(Decimal(left) / units))
    out["fits"], out["max_minutes_now"] = fits, most
    if fits:
        lines.append(("info", _l("Slurm starts %(what)s only when the project's budget "
                                 "covers its whole time limit (%(time)s: %(cost)s); "
                                 "%(left)s is left.", what=what,
                                 time=time_limit_words(minutes), cost=format_money(reserve),
                                 left=format_money(budget.left_money))))
    elif most >= 1:
        lines.append(("warning", _l("The budget left (%(left)s) does not cover the whole "
                                    "time limit (%(time)s: %(cost)s): Slurm would keep "
                                    "%(what)s waiting (QOSGrpBillingMinutes). Ask for at "
                                    "most %(most)s, or ask an administrator for a top-up.",
                                    left=format_money(budget.left_money),
                                    time=time_limit_words(minutes),
                                    cost=format_money(reserve), what=what,
                                    most=time_limit_words(most))))
    else:
        lines.append(("warning", _l("The project's budget is used up (%(left)s left): "
                                    "Slurm would keep %(what)s waiting until an "
                                    "administrator tops up the wallet.",
                                    left=format_money(budget.left_money), what=what)))


def _texts(out: dict) -> dict:
    out["lines"] = [{"level": level, "text": str(text)} for level, text in out["lines"]]
    return out


def budget_hold(obj) -> str:
    """For a job or session Slurm keeps pending for the budget (…GrpBillingMinutes): what
    its whole time limit costs against what is left, and the longest limit that fits now.
    "" when it is not waiting for the budget or the numbers are not known."""
    reason = (getattr(obj, "reason", None) or "").strip("()")
    if not reason.endswith("GrpBillingMinutes") or obj.project is None:
        return ""
    minutes = getattr(obj, "time_limit_min", None)
    rate = pricing.rate(obj.gpu_model, obj.gpu_count or 0, obj.cpus or 0, obj.mem_gb or 0,
                        partition=getattr(obj, "partition", None),
                        nodes=getattr(obj, "node_count", 1) or 1)
    budget = walletsvc.budget_view(obj.project)
    units = _whole(rate)
    if not minutes or units <= 0 or budget.left_minutes is None:
        return ""
    cost = _money(units * minutes / 60 / billing_scale())
    most = int(math.floor(Decimal(budget.left_minutes) / units))
    if most >= 1:
        return str(_l("The project's budget is what holds it: Slurm starts a job only when "
                      "the budget covers its whole time limit (%(time)s at %(price)s per "
                      "hour: %(cost)s), and %(left)s is left. A time limit of at most "
                      "%(most)s would fit now; or ask an administrator for a top-up.",
                      time=time_limit_words(minutes), price=format_money(rate.hourly),
                      cost=format_money(cost), left=format_money(budget.left_money),
                      most=time_limit_words(most)))
    return str(_l("The project's budget is what holds it: %(left)s is left, not enough for "
                  "even a minute at %(price)s per hour. It starts after an administrator "
                  "tops up the wallet.", left=format_money(budget.left_money),
                  price=format_money(rate.hourly)))
