"""`portal key …` and `portal whitelist …`: F9 and F10 from a shell, through the same services.

Who acts: the portal user bound to the invoking Unix account; root may name any user with
--user (a normal user naming someone else is refused). A generated private key is written
to a new file with mode 0600 (or to stdout with `--out -`), never anywhere else.
"""

from __future__ import annotations

import json
import os
import sys

import click

from portal.cli_common import JSON_OPTION, USER_OPTION, acting_user, echo_items, fail


def _write_new_private(path: str, text: str) -> None:
    """Create `path` 0600 (refusing to overwrite anything) and write the key into it."""

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        fail(f"cannot create {path}: {exc.strerror}")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


@click.group()
def key():
    """SSH keys (public halves only are kept)."""


@key.command("list")
@USER_OPTION
@JSON_OPTION
def key_list(username, as_json):
    """Your keys with their SHA256 fingerprints."""
    from portal.api.keys import key_json
    from portal.services import keys

    with acting_user(username, request=False) as user:
        echo_items([key_json(k) for k in keys.list_keys(user)], as_json,
                   lambda k: f"{k['id']}\t{k['name']}\t{k['type']}\t{k['fingerprint']}")


@key.command("create")
@click.argument("name")
@click.option("--type", "key_type", type=click.Choice(["ed25519", "rsa"]), default="ed25519",
              show_default=True)
@click.option("--out", required=True, help="New file for the private key (mode 0600), or -.")
@USER_OPTION
def key_create(name, key_type, out, username):
    """Generate a pair; the private key goes to --out once and is kept nowhere else."""
    from portal.services import keys

    if out != "-" and os.path.lexists(out):
        fail(f"{out} exists; choose a new file")
    with acting_user(username, request=False) as user:
        record, private_key = keys.create_key(user, name, key_type)
        if out == "-":
            sys.stdout.write(private_key)
        else:
            _write_new_private(out, private_key)
            click.echo(f"created {record.name} {record.fingerprint}; private key in {out}")


@key.command("import")
@click.argument("name")
@click.argument("public_key_file", type=click.File("r"), default="-")
@USER_OPTION
def key_import(name, public_key_file, username):
    """Import one public key line from PUBLIC_KEY_FILE (default: stdin)."""
    from portal.services import keys

    text = public_key_file.read(20000)
    with acting_user(username, request=False) as user:
        record = keys.import_key(user, name, text)
        click.echo(f"imported {record.name} {record.fingerprint}")


@key.command("delete")
@click.argument("key_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@USER_OPTION
def key_delete(key_id, yes, username):
    """Delete key KEY_ID (see `portal key list`)."""
    from portal.services import keys

    with acting_user(username, request=False) as user:
        record = keys.get_key(user, key_id)
        used = ", ".join(str(getattr(s, "name", s)) for s in keys.key_usage(record))
        if not yes:
            click.confirm(f"Delete key {record.name} ({record.fingerprint})"
                          f"{'; used by ' + used if used else ''}?", abort=True)
        keys.delete_key(user, key_id)
        click.echo(f"deleted {record.name}")


# Rules whose union admits every address need this explicit choice (issue #12 finding 8).
ADMIT_ALL_OPTION = click.option(
    "--admit-all", is_flag=True,
    help="Allow rules that together admit every address (0.0.0.0/0, or e.g. 0.0.0.0/1 + "
         "128.0.0.0/1) for some protocol and port.")


@click.group()
def whitelist():
    """IP whitelists: rules like `10.0.0.0/8 tcp 22`."""


@whitelist.command("list")
@USER_OPTION
@JSON_OPTION
def whitelist_list(username, as_json):
    """Your whitelists with their rules."""
    from portal.api.whitelists import whitelist_json
    from portal.services import whitelists

    with acting_user(username, request=False) as user:
        echo_items([whitelist_json(w) for w in whitelists.list_whitelists(user)], as_json,
                   lambda w: f"{w['id']}\t{w['name']}\t"
                   + ", ".join(r["label"] for r in w["rules"]))


@whitelist.command("create")
@click.argument("name")
@click.argument("rules", nargs=-1, required=True)
@ADMIT_ALL_OPTION
@USER_OPTION
def whitelist_create(name, rules, admit_all, username):
    """Create NAME with RULES, each one argument such as "10.0.0.0/8 tcp 22"."""
    from portal.services import whitelists

    with acting_user(username, request=False) as user:
        record, warnings = whitelists.create_whitelist(user, name, list(rules),
                                                       admit_all=admit_all)
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
        click.echo(f"created {record.name} (id {record.id}, {len(record.rules)} rules)")


@whitelist.command("add")
@click.argument("whitelist_id", type=int)
@click.argument("rules", nargs=-1, required=True)
@ADMIT_ALL_OPTION
@USER_OPTION
def whitelist_add(whitelist_id, rules, admit_all, username):
    """Add RULES to whitelist WHITELIST_ID."""
    from portal.services import whitelists

    with acting_user(username, request=False) as user:
        added, warnings = whitelists.add_rules(user, whitelist_id, list(rules),
                                               admit_all=admit_all)
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
        click.echo(f"added {len(added)} rules")


@whitelist.command("delete")
@click.argument("whitelist_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@USER_OPTION
def whitelist_delete(whitelist_id, yes, username):
    """Delete whitelist WHITELIST_ID and its rules."""
    from portal.services import whitelists

    with acting_user(username, request=False) as user:
        record = whitelists.get_whitelist(user, whitelist_id)
        if not yes:
            click.confirm(f"Delete whitelist {record.name}?", abort=True)
        whitelists.delete_whitelist(user, whitelist_id)
        click.echo(f"deleted {record.name}")


@whitelist.command("check")
@click.argument("whitelist_id", type=int)
@click.argument("address")
@USER_OPTION
def whitelist_check(whitelist_id, address, username):
    """Whether WHITELIST_ID admits ADDRESS for SSH and for the web."""
    from portal.services import whitelists

    with acting_user(username, request=False) as user:
        result = whitelists.explain(whitelists.get_whitelist(user, whitelist_id), address)
        click.echo(json.dumps(result))


def register(main: click.Group) -> None:
    """Add the key and whitelist groups to the `portal` command."""
    main.add_command(key)
    main.add_command(whitelist)
