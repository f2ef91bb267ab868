"""An in-memory stand-in for `SlurmAccounts` that behaves like sacctmgr where it matters.

Same methods and return values (True: changed, False: already so), arguments checked with
the real formatters (so a value sacctmgr would misread fails here too), the refusals
sacctmgr makes (a QOS in use as a default, a member with active jobs), and switches to
simulate slurmdbd going down: `down = True` (every call) or `fail_on = {"add_user"}`
(those methods only).
"""

from __future__ import annotations

import functools
from dataclasses import replace

from adapters.accounts_values import (
    ACCOUNT_SETTINGS,
    QOS_SETTINGS,
    AccountRecord,
    Association,
    QosRecord,
    check_name,
    clean_text,
    format_settings,
)
from adapters.errors import SlurmRejected, SlurmUnreachable

DOWN = "Sending PersistInit msg: Connection refused"


def _change(method):
    """A mutation: in a dry run (noop) it is only planned, as the real adapter does."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if self.noop:
            self.calls.append(method.__name__)
            self.planned.append([method.__name__, *map(str, args)])
            return True
        return method(self, *args, **kwargs)

    return wrapper


class FakeAccounts:
    def __init__(self):
        self.accts: dict[str, AccountRecord] = {"root": AccountRecord("root")}
        self.assocs: dict[tuple[str, str | None], Association] = {
            ("root", None): Association("root", qos=("normal",))}
        self.qos_defs: dict[str, QosRecord] = {"normal": QosRecord("normal", id=1)}
        self.busy: set[tuple[str, str]] = set()  # (user, account) with active jobs
        self.down = False
        self.fail_on: set[str] = set()
        self.calls: list[str] = []
        self.noop = False
        self.planned: list = []

    # -- helpers ------------------------------------------------------------------------

    def _enter(self, method: str) -> None:
        self.calls.append(method)
        if self.down or method in self.fail_on:
            raise SlurmUnreachable(DOWN, ["sacctmgr"], DOWN, 1)

    def snapshot(self):
        return (dict(self.accts), dict(self.assocs), dict(self.qos_defs))

    # -- reads --------------------------------------------------------------------------

    def accounts(self, names=None):
        self._enter("accounts")
        return [a for n, a in sorted(self.accts.items()) if names is None or n in names]

    def associations(self, account=None):
        self._enter("associations")
        return [a for (acct, _u), a in sorted(self.assocs.items(), key=lambda i: (i[0][0],
                                                                                 i[0][1] or ""))
                if account is None or acct == account]

    def qos(self, names=None):
        self._enter("qos")
        return [q for n, q in sorted(self.qos_defs.items()) if names is None or n in names]

    # -- accounts and users -------------------------------------------------------------

    @_change
    def add_account(self, name, settings=None, parent="root"):
        self._enter("add_account")
        format_settings(settings or {}, ACCOUNT_SETTINGS)
        check_name(name)
        if name in self.accts:
            return False
        settings = settings or {}
        self.accts[name] = AccountRecord(name, clean_text(settings.get("Description", "")),
                                         settings.get("Organization", ""))
        self.assocs[(name, None)] = Association(name, parent=parent)
        self._assoc_settings(name, settings)
        return True

    def _assoc_settings(self, name, settings):
        own = self.assocs[(name, None)]
        changes = {}
        for key, attr in (("GrpJobs", "grp_jobs"), ("GrpSubmitJobs", "grp_submit"),
                          ("MaxWall", "max_wall"), ("DefaultQOS", "default_qos")):
            if key in settings:
                changes[attr] = settings[key]
        if "QOS" in settings:
            changes["qos"] = tuple(settings["QOS"])
        if "GrpTRES" in settings:
            changes["grp_tres"] = _merge(own.grp_tres, settings["GrpTRES"])
        self.assocs[(name, None)] = replace(own, **changes)
        if "Description" in settings:
            self.accts[name] = replace(self.accts[name],
                                       description=clean_text(settings["Description"]))

    @_change
    def modify_account(self, name, settings):
        self._enter("modify_account")
        format_settings(settings, ACCOUNT_SETTINGS)
        if name not in self.accts:
            return False
        self._assoc_settings(name, settings)
        return True

    @_change
    def remove_account(self, name):
        self._enter("remove_account")
        if name not in self.accts:
            return False
        del self.accts[name]
        self.assocs = {k: v for k, v in self.assocs.items() if k[0] != name}
        return True

    @_change
    def add_user(self, user, account):
        self._enter("add_user")
        if account not in self.accts:
            raise SlurmRejected(f"This account '{account}' doesn't exist.")
        if (account, user) in self.assocs:
            return False
        self.assocs[(account, user)] = Association(account, user)
        return True

    @_change
    def remove_user(self, user, account):
        self._enter("remove_user")
        if (user, account) in self.busy:
            raise SlurmRejected("Error with request: Job(s) active, cancel job(s) before remove")
        if (account, user) not in self.assocs:
            return False
        del self.assocs[(account, user)]
        return True

    @_change
    def add_coordinator(self, user, account):
        self._enter("add_coordinator")
        record = self.accts[account]
        self.accts[account] = replace(record, coordinators=tuple(sorted(
            {*record.coordinators, user})))
        return True

    @_change
    def remove_coordinator(self, user, account):
        self._enter("remove_coordinator")
        record = self.accts.get(account)
        if record is None or user not in record.coordinators:
            return False
        self.accts[account] = replace(record, coordinators=tuple(
            c for c in record.coordinators if c != user))
        return True

    # -- QOS ----------------------------------------------------------------------------

    @_change
    def add_qos(self, name, settings=None):
        self._enter("add_qos")
        format_settings(settings or {}, QOS_SETTINGS)
        check_name(name, "QOS")
        if name in self.qos_defs:
            return False
        self.qos_defs[name] = QosRecord(name, description=name, id=len(self.qos_defs) + 1)
        self._qos_settings(name, settings or {})
        return True

    def _qos_settings(self, name, settings):
        record = self.qos_defs[name]
        changes = {}
        for key, attr in (("Priority", "priority"), ("MaxWall", "max_wall"),
                          ("MaxJobsPerUser", "max_jobs_per_user"),
                          ("Description", "description")):
            if key in settings:
                changes[attr] = settings[key]
        if "GrpTRES" in settings:
            changes["grp_tres"] = _merge(record.grp_tres, settings["GrpTRES"])
        if "MaxTRESPerUser" in settings:
            changes["max_tres_per_user"] = _merge(record.max_tres_per_user,
                                                  settings["MaxTRESPerUser"])
        self.qos_defs[name] = replace(record, **changes)

    @_change
    def modify_qos(self, name, settings):
        self._enter("modify_qos")
        format_settings(settings, QOS_SETTINGS)
        if name not in self.qos_defs:
            return False
        self._qos_settings(name, settings)
        return True

    @_change
    def remove_qos(self, name):
        self._enter("remove_qos")
        if any(a.default_qos == name for a in self.assocs.values()):
            raise SlurmRejected("Associations listed below have these as their Default QOS.")
        return self.qos_defs.pop(name, None) is not None


def _merge(current: dict, update: dict) -> dict:
    out = dict(current)
    for key, value in update.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out
