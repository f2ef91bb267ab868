"""`portal job|template|schedule …`: F6–F8 from a shell, through the same services.

Who acts: the portal user bound to the invoking Unix account; root may name any user
with --user (a normal user naming someone else is refused). Work happens in that user's
current project, as on the pages.
"""

from __future__ import annotations

import sys

import click

from portal.cli_common import (
    IDEMPOTENCY_OPTION,
    USER_OPTION,
    acting_user,
    create_once,
    echo_items,
    service_context,
)


def _spec_options(function):
    for option in reversed([
        click.option("--nodes", "node_count", type=int, default=1, show_default=True,
                     help="Nodes (sbatch --nodes); --gpus, --cpus and --mem-gb are per node."),
        click.option("--gpu-model", default=None, help="GPU model, e.g. a100."),
        click.option("--gpus", "gpu_count", type=int, default=0, show_default=True,
                     help="GPUs per node."),
        click.option("--cpus", type=int, default=1, show_default=True, help="CPU cores per node."),
        click.option("--mem-gb", type=int, default=4, show_default=True, help="Memory per node."),
        click.option("--shm-gb", type=int, default=0, show_default=True),
        click.option("--time", "time_limit", default=None,
                     help="Time limit as sbatch --time takes it: minutes (30), H:MM:SS or "
                          "D-HH:MM:SS. Default: the project's time limit (MaxWall), else "
                          "the partition default."),
        click.option("--image", default="base", show_default=True),
        click.option("--image-type", default="public", show_default=True),
        click.option("--command", "command_text", default=None, help="The command text."),
        click.option("--command-file", type=click.File("r", encoding="utf-8"), default=None,
                     help="Read the command from a file ('-' for stdin)."),
    ]):
        function = option(function)
    return function


def _spec(kwargs) -> dict:
    command_file = kwargs.pop("command_file", None)
    command = kwargs.pop("command_text", None)
    if command_file is not None:
        command = command_file.read()
    return {**kwargs, "command": command}


@click.group("job")
def job():
    """Batch jobs (F6)."""


@job.command("list")
@USER_OPTION
@click.option("--json", "as_json", is_flag=True)
def job_list(username, as_json):
    """Jobs in your current project."""
    from portal.api.jobs import job_json
    from portal.services import jobs

    with acting_user(username) as user:
        data = [job_json(j) for j in jobs.visible_jobs(user)]
        echo_items(data, as_json, lambda j: f"{j['id']:>6}  {j['state']:<10} "
                   f"{j['slurm_job_id'] or '-':>8}  {j['name']}  ({j['framework']})")


@job.command("show")
@click.argument("job_id", type=int)
@USER_OPTION
def job_show(job_id, username):
    """One job with its events and script (JSON)."""
    from portal.api.jobs import job_json
    from portal.services import jobs

    with acting_user(username) as user:
        echo_items(job_json(jobs.get_job(user, job_id), full=True), True, str)


@job.command("run")
@click.option("--name", default=None, help="Job name (from a template: <template>-<n>).")
@click.option("--template", "template_id", type=int, default=None)
@_spec_options
@USER_OPTION
@IDEMPOTENCY_OPTION
def job_run(name, template_id, username, idempotency_key, **kwargs):
    """Submit a job (or run a template; given options override it)."""
    from portal.services import jobs, jobtemplates
    from portal.services.jobspec import format_time_limit

    with acting_user(username) as user:
        data = _spec(kwargs)
        if template_id is not None:
            given = {k: v for k, v in data.items() if v is not None}
            job = create_once(user, idempotency_key, "job run", {**given, "name": name,
                              "template": template_id}, lambda: jobtemplates.run_template(
                                  user, template_id, {**given, "name": name}), "job")
        else:
            job = create_once(user, idempotency_key, "job run", {**data, "name": name},
                              lambda: jobs.create_job(user, {**data, "name": name}), "job")
        limit = format_time_limit(job.time_limit_min)
        click.echo(f"job {job.id} ({job.name}): Slurm job {job.slurm_job_id or '?'}, "
                   f"{job.state}{', time limit ' + limit if limit else ''}"
                   f"{' — ' + job.error if job.error else ''}")


@job.command("log")
@click.argument("job_id", type=int)
@USER_OPTION
def job_log(job_id, username):
    """Print the job's log (read as its owner)."""
    from portal.services import joblog, jobs

    with acting_user(username) as user:
        _status, _headers, stream = joblog.download(jobs.get_job(user, job_id),
                                                    jobs.get_backend(), None)
        for chunk in stream:
            sys.stdout.buffer.write(chunk)
        sys.stdout.flush()


@job.command("delete")
@click.argument("job_id", type=int)
@USER_OPTION
def job_delete(job_id, username):
    """Cancel the job if it may still run, and hide it."""
    from portal.services import jobdelete

    with acting_user(username) as user:
        deleted = jobdelete.delete_job(user, job_id)
        click.echo(f"deleted job {deleted.id} ({deleted.name})")


@job.command("extend")
@click.argument("job_id", type=int)
@click.option("--hours", type=int, required=True, help="Add N hours to its time limit.")
@USER_OPTION
@IDEMPOTENCY_OPTION
def job_extend(job_id, hours, username, idempotency_key):
    """Extend a running job by N hours (capped by MaxWall and the wallet, issue #17)."""
    from portal.services import extend

    with acting_user(username) as user:
        done = create_once(user, idempotency_key, f"job extend {job_id}", {"hours": hours},
                           lambda: extend.extend_job(user, job_id, hours), "job")
        end = extend.ends_at(done)
        click.echo(f"job {done.id}: time limit now {done.time_limit_min} min; ends at the "
                   f"latest at {end:%Y-%m-%d %H:%M} UTC" if end else
                   f"job {done.id}: time limit now {done.time_limit_min} min")


@click.group("template")
def template():
    """Job templates (F7)."""


@template.command("list")
@USER_OPTION
@click.option("--json", "as_json", is_flag=True)
def template_list(username, as_json):
    from portal.api.jobs import template_json
    from portal.services import jobtemplates

    with acting_user(username) as user:
        data = [template_json(t) for t in jobtemplates.list_templates(user)]
        echo_items(data, as_json,
                   lambda t: f"{t['id']:>6}  {t['name']}  next: {t['next_job_name']}")


@template.command("create")
@click.argument("name")
@_spec_options
@USER_OPTION
def template_create(name, username, **kwargs):
    from portal.services import jobtemplates

    with acting_user(username) as user:
        created = jobtemplates.create_template(user, {**_spec(kwargs), "name": name})
        click.echo(f"template {created.id} ({created.name}) saved")


@template.command("run")
@click.argument("template_id", type=int)
@click.option("--name", default=None)
@USER_OPTION
def template_run(template_id, name, username):
    from portal.services import jobtemplates

    with acting_user(username) as user:
        job = jobtemplates.run_template(user, template_id, {"name": name})
        click.echo(f"job {job.id} ({job.name}): Slurm job {job.slurm_job_id or '?'}")


@template.command("delete")
@click.argument("template_id", type=int)
@USER_OPTION
def template_delete(template_id, username):
    from portal.services import jobtemplates

    with acting_user(username) as user:
        jobtemplates.delete_template(user, template_id)
        click.echo(f"template {template_id} deleted")


@click.group("schedule")
def schedule():
    """Schedules (F8)."""


def _schedule_options(function):
    for option in reversed([
        click.option("--cron", required=True, help='e.g. "0 20 * * *"'),
        click.option("--timezone", default="UTC", show_default=True),
        click.option("--start", default=None, help="Local date-time (default: now)."),
        click.option("--end", default=None, help="Local date-time (default: never)."),
    ]):
        function = option(function)
    return function


@schedule.command("preview")
@_schedule_options
def schedule_preview(cron, timezone, start, end):
    """The trigger in words and its next five run times."""
    from portal.services import schedules

    with service_context():
        data = schedules.preview({"cron": cron, "timezone": timezone, "start": start,
                                  "end": end})
        click.echo(data["description"])
        for when in data["next_runs"]:
            click.echo(f"  {when}")


@schedule.command("create")
@click.argument("name")
@_schedule_options
@click.option("--template", "template_id", type=int, required=True)
@click.option("--mode", type=click.Choice(["single", "multi"]), default="single")
@click.option("--missed", "missed_policy", type=click.Choice(["skip", "run_late"]),
              default="skip")
@click.option("--description", default="")
@USER_OPTION
@IDEMPOTENCY_OPTION
def schedule_create(name, username, idempotency_key, **kwargs):
    """Create a schedule; its first run is submitted at once."""
    from portal.services import schedules

    with acting_user(username) as user:
        data = {**kwargs, "name": name}
        created = create_once(user, idempotency_key, "schedule create", data,
                              lambda: schedules.create_schedule(user, data), "schedule")
        upcoming = schedules.upcoming_run(created)
        nxt = f"{upcoming.name} (Slurm job {upcoming.slurm_job_id})" if upcoming else "none"
        click.echo(f"schedule {created.id} ({created.name}) created; next run: {nxt}")


@schedule.command("list")
@USER_OPTION
@click.option("--json", "as_json", is_flag=True)
def schedule_list(username, as_json):
    from portal.api.jobs import schedule_json
    from portal.services import schedules

    with acting_user(username) as user:
        data = [schedule_json(s) for s in schedules.list_schedules(user)]
        echo_items(data, as_json, lambda s: f"{s['id']:>6}  {s['status']:<7} {s['cron']:<15} "
                   f"{s['timezone']}  {s['name']}")


@schedule.command("delete")
@click.argument("schedule_id", type=int)
@USER_OPTION
def schedule_delete(schedule_id, username):
    from portal.services import schedules

    with acting_user(username) as user:
        schedules.delete_schedule(user, schedule_id)
        click.echo(f"schedule {schedule_id} deleted; its pending run was cancelled")


def register(main: click.Group) -> None:
    """Add the job, template and schedule groups to the `portal` command."""
    for group in (job, template, schedule):
        main.add_command(group)
