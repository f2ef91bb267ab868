"""The create form's choices, its posted values as the service's input, and the summary.

The form is rendered by hand (templates/sessions/_form.html) because its choices come
from the user's keys, whitelists, the images and the cluster's GPUs; Flask-WTF supplies
the CSRF token. All validation is the service's (portal/services/sessionspec.py).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from portal.services import cluster
from portal.services import keys as keysvc
from portal.services import whitelists as wlsvc
from portal.services.images import available_images
from portal.services.jobdisplay import hardware
from portal.services.jobspec import cluster_limits
from portal.services.sessiondisplay import SERVICES
from portal.services.sessionspec import writable_allowed
from portal.services.users import current_membership

LIST_FIELDS = ("ssh_key_ids", "whitelist_ids")
FIELDS = ("name", "start", "begin_at", "end", "end_at", "hours", "gpu_model", "gpu_count",
          "cpus", "mem_gb", "shm_gb", "image_type", "image", "ssh_auth", "webterm_password",
          "allow_all")


def form_data(form: MultiDict) -> dict:
    """The posted fields as the service expects them (lists for multi-selects)."""
    data = {key: form.get(key, "") for key in FIELDS}
    data["allow_all"] = form.get("allow_all") in ("1", "on", "true", "yes")
    data["writable"] = form.get("writable") in ("1", "on", "true", "yes")  # F4
    for key in LIST_FIELDS:
        data[key] = form.getlist(key)
    return data


def form_context(user, values: dict) -> dict:
    view = cluster.cached_view()
    limits = cluster_limits(view)
    return {
        "values": values,
        "images": [i for i in available_images(user) if i.services],
        "keys": keysvc.list_keys(user),
        "whitelists": wlsvc.list_whitelists(user),
        "limits": limits,
        "gpu_models": sorted((limits.get("gpu_models") or {}).items()),
        "membership": current_membership(user),
        "service_names": {k: str(v) for k, v in SERVICES.items()},
        "cluster_view": view,
        "writable_allowed": writable_allowed(),  # F4: offer "keep changes to the container"
    }


def _when(value, never) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else str(never)


def summary(user, request) -> list[tuple[str, str]]:
    """(label, value) rows of the confirmation page, from a validated SessionRequest."""
    keys = {k.id: k.name for k in keysvc.list_keys(user)}
    lists = {w.id: w.name for w in wlsvc.list_whitelists(user)}
    membership = current_membership(user)
    limit = (_l("%(hours)s hours", hours=f"{request.time_limit_min / 60:.4g}")
             if request.time_limit_min else _l("the partition's default"))
    rows = [
        (_l("Name"), request.name),
        (_l("Project"), f"{membership.project.name} ({membership.project.account})"),
        (_l("Start"), _when(request.begin_at, _l("at once"))),
        (_l("End"), _when(request.end_at, _l("never")) if request.end_at or not
         request.time_limit_min else str(_l("after %(limit)s", limit=limit))),
        (_l("Time limit"), str(limit)),
        (_l("Hardware"), hardware(request)),
        (_l("Image"), f"{request.image} ({request.framework})"),
        (_l("Services"), ", ".join(str(SERVICES.get(s, s)) for s in request.services)),
        (_l("SSH keys"), ", ".join(keys.get(i, str(i)) for i in request.ssh_key_ids) or "—"),
        (_l("Whitelists"), str(_l("allow all incoming")) if request.allow_all
         else ", ".join(lists.get(i, str(i)) for i in request.whitelist_ids)),
        (_l("Web-terminal password"), str(_l("set")) if request.webterm_password else "—"),
        (_l("Keep changes to the container"), str(_l("yes (start-up takes longer)"))
         if request.writable else str(_l("no"))),
    ]
    return [(str(label), str(value)) for label, value in rows]
