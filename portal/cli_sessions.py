"""`portal image …` (admins: public images) and `portal session …` (users: F3 from a shell).

Who acts on sessions: the portal user bound to the invoking Unix account, or --user NAME
for root (the same rule as `portal job`). `portal session connect` prints the SSH command,
or with --terminal opens the session's shell here (srun --overlap --pty into it).
"""

from __future__ import annotations

import click

from portal import cli_common
from portal.cli_common import (
    IDEMPOTENCY_OPTION,
    USER_OPTION,
    acting_user,
    echo_items,
    fail,
    invoking_unix_user,
)


@click.group("image")
def image():
    """Public container images (platform admins)."""


@image.command("register")
@click.argument("name")
@click.option("--path", required=True, help="Image directory (Charliecloud) or SIF/sandbox.")
@click.option("--framework", default="", help="Framework label, e.g. 'PyTorch 2.3'.")
@click.option("--display-name", default="")
@click.option("--description", default="")
@click.option("--services", default="jupyter,ssh,webterm", show_default=True)
@click.option("--auth", "auth_methods", default="key", show_default=True,
              help="SSH sign-in methods: key, password.")
@click.option("--shell", default="/bin/bash", show_default=True)
@click.option("--if-missing", is_flag=True, help="Succeed quietly if NAME is registered.")
def image_register(name, path, if_missing, **options):
    """Register a public image every user may start."""
    from sqlalchemy import select

    from portal import db
    from portal.models import PublicImage
    from portal.services import ServiceError, public_images

    with cli_common.make_app().app_context():
        if if_missing and db.session.scalar(select(PublicImage).where(PublicImage.name == name)):
            click.echo(f"image {name} is registered")
            return
        try:
            row = public_images.register_image(name, path, **options)
        except ServiceError as exc:
            fail(exc)
        click.echo(f"registered image {row.name}: {row.path} ({', '.join(row.services)})")


@image.command("list")
@click.option("--json", "as_json", is_flag=True)
def image_list(as_json):
    """Registered public images."""
    from portal.api.sessions import image_row_json
    from portal.services import public_images

    with cli_common.make_app().app_context():
        data = [image_row_json(row) for row in public_images.list_images()]
    echo_items(data, as_json, lambda i: f"{i['name']:<20} {'on ' if i['enabled'] else 'off'} "
           f"{i['path']}  ({i['framework']}; {', '.join(i['services'])})")


@image.command("delete")
@click.argument("name")
def image_delete(name):
    """Unregister an image (its files stay)."""
    from sqlalchemy import select

    from portal import db
    from portal.models import PublicImage
    from portal.services import public_images

    with cli_common.make_app().app_context():
        row = db.session.scalar(select(PublicImage).where(PublicImage.name == name))
        if row is None:
            fail(f"no image {name}")
        public_images.delete_image(row.id)
        click.echo(f"unregistered image {name}")


@click.group("session")
def session():
    """Interactive container sessions (F3)."""


def _line(s: dict) -> str:
    reason = f" ({s['reason_text']})" if s.get("reason_text") else ""
    return (f"{s['id']:>6}  {s['state']:<9}{reason} {s['deployment_id'] or '-':>8}  "
            f"{s['name']}  {s['image']}")


@session.command("list")
@USER_OPTION
@click.option("--json", "as_json", is_flag=True)
def session_list(username, as_json):
    """Sessions in your current project."""
    from portal.services import sessions
    from portal.services.sessiondisplay import session_json

    with acting_user(username) as user:
        echo_items([session_json(s) for s in sessions.visible_sessions(user)], as_json, _line)


@session.command("create")
@click.argument("name")
@click.option("--image", default="jupyter", show_default=True)
@click.option("--gpu-model", default=None)
@click.option("--gpus", "gpu_count", type=int, default=0, show_default=True)
@click.option("--cpus", type=int, default=1, show_default=True)
@click.option("--mem-gb", type=int, default=4, show_default=True)
@click.option("--shm-gb", type=int, default=0, show_default=True)
@click.option("--hours", type=int, default=None, help="End after N hours (default: never).")
@click.option("--key", "ssh_key_ids", type=int, multiple=True, help="SSH key id (repeat).")
@click.option("--whitelist", "whitelist_ids", type=int, multiple=True, help="Whitelist id.")
@click.option("--allow-all", is_flag=True, help="Admit every client address.")
@click.option("--writable", is_flag=True,
              help="Keep changes to the container (needed to save it as a custom image; "
                   "start-up takes longer).")
@USER_OPTION
@IDEMPOTENCY_OPTION
def session_create(name, hours, username, idempotency_key, **options):
    """Create a session and print its id and Slurm job id."""
    from portal.services import sessions

    data = {**options, "name": name, "ssh_auth": "key" if options["ssh_key_ids"] else "none",
            "end": "hours" if hours else "never", "hours": hours}
    with acting_user(username) as user:
        created = cli_common.create_once(user, idempotency_key, "session create", data,
                                         lambda: sessions.create_session(user, data),
                                         "session")
        if sessions.submission_uncertain(created):
            click.echo(f"session {created.id}: {sessions.uncertain_message(created)}")
        else:
            click.echo(f"session {created.id} submitted as Slurm job {created.slurm_job_id}")


@session.command("delete")
@click.argument("session_ids", type=int, nargs=-1, required=True)
@USER_OPTION
def session_delete(session_ids, username):
    """Cancel sessions (they show "deleting" until Slurm confirms)."""
    from portal.services import sessions

    with acting_user(username) as user:
        for session_id, error in sessions.delete_sessions(user, session_ids):
            click.echo(f"session {session_id}: {error or 'deleting'}")


@session.command("extend")
@click.argument("session_id", type=int)
@click.option("--hours", type=int, required=True, help="Add N hours to its time limit.")
@USER_OPTION
@IDEMPOTENCY_OPTION
def session_extend(session_id, hours, username, idempotency_key):
    """Extend a running session by N hours (capped by MaxWall and the wallet, issue #17)."""
    from portal.services import extend

    with acting_user(username) as user:
        done = cli_common.create_once(
            user, idempotency_key, f"session extend {session_id}", {"hours": hours},
            lambda: extend.extend_session(user, session_id, hours), "session")
        end = extend.ends_at(done)
        click.echo(f"session {done.id}: time limit now {done.time_limit_min} min; ends at "
                   f"the latest at {end:%Y-%m-%d %H:%M} UTC" if end else
                   f"session {done.id}: time limit now {done.time_limit_min} min")


@session.command("connect")
@click.argument("session_id", type=int)
@click.option("--terminal", is_flag=True, help="Open a shell in the session here.")
@USER_OPTION
def session_connect(session_id, terminal, username):
    """Print the SSH command, or open a terminal in the session (--terminal)."""
    from flask import current_app

    from adapters import factory
    from portal.services import sessionconn, sessions
    from portal.services import sessionscript as scripts

    with acting_user(username) as user:
        found = sessions.get_session(user, session_id)
        if found.state != "running":
            fail(f"session {session_id} is {found.state}, not running")
        if not terminal:
            command = sessionconn.ssh_command(found)
            if command is None:
                fail("this session has no SSH; use --terminal")
            click.echo(command)
            return
        inner = scripts.terminal_argv(sessions.script_input(found), found.shell)
        argv = factory.attach_argv(current_app.config, found.slurm_job_id, inner)
        invoking = invoking_unix_user()
        runner = factory.make_runner(current_app.config)
        as_user = None if invoking == found.user.unix_user else found.user.unix_user
    factory.exec_attach(runner, argv, as_user)


def register(main) -> None:
    main.add_command(image)
    main.add_command(session)
