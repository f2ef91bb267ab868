"""Job templates (F7): a saved job specification, and running jobs from it.

A template belongs to its owner within one project. Jobs run from it are named
`<template>-<n>` by default, n growing by one per run of that template (the name stays
editable). Using a template of another project is refused.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from portal import db
from portal.models import JobTemplate, Schedule
from portal.services import Forbidden, NotFound, ServiceError, audit, cluster
from portal.services.core.membership import require_membership
from portal.services.jobs import create_job
from portal.services.jobspec import parse_request, spec_of, validate_name


def get_template(user, template_id: int, membership=None) -> JobTemplate:
    """The user's template in their current project.

    Raises NotFound (someone else's or none) or Forbidden("other_project").
    """
    template = db.session.get(JobTemplate, template_id)
    if template is None or template.user_id != user.id:
        raise NotFound(_l("No such template."))
    membership = membership or require_membership(user)
    if template.project_id != membership.project_id:
        raise Forbidden(
            _l("That template belongs to another project: switch to %(project)s first.",
               project=template.project.name),
            "other_project",
        )
    return template


def list_templates(user) -> list[JobTemplate]:
    membership = require_membership(user)
    stmt = select(JobTemplate).where(
        JobTemplate.user_id == user.id, JobTemplate.project_id == membership.project_id
    )
    return list(db.session.scalars(stmt.order_by(JobTemplate.name)))


def _check_unique(user, project_id: int, name: str, exclude: int | None = None) -> None:
    stmt = select(JobTemplate.id).where(
        JobTemplate.user_id == user.id, JobTemplate.project_id == project_id,
        JobTemplate.name == name,
    )
    if exclude is not None:
        stmt = stmt.where(JobTemplate.id != exclude)
    if db.session.scalar(stmt):
        raise ServiceError(_l("You already have a template called %(name)s.", name=name),
                           "duplicate")


def create_template(user, data: Mapping) -> JobTemplate:
    """Save a template in the current project. Raises ServiceError for bad input."""
    membership = require_membership(user)
    name = validate_name(data.get("name"), "template")
    request = parse_request(user, data, cluster.cached_view())
    _check_unique(user, membership.project_id, name)
    template = JobTemplate(
        user_id=user.id, project_id=membership.project_id, name=name, **request.as_dict()
    )
    db.session.add(template)
    db.session.commit()
    audit.record("template.create", f"template:{template.id}", actor=user, name=name)
    return template


def update_template(user, template_id: int, data: Mapping) -> JobTemplate:
    """Replace a template's name and specification. Raises NotFound/ServiceError."""
    template = get_template(user, template_id)
    name = validate_name(data.get("name"), "template")
    request = parse_request(user, data, cluster.cached_view())
    _check_unique(user, template.project_id, name, exclude=template.id)
    template.name = name
    for key, value in request.as_dict().items():
        setattr(template, key, value)
    template.updated_at = db.utcnow()
    db.session.commit()
    audit.record("template.update", f"template:{template.id}", actor=user, name=name)
    return template


def delete_template(user, template_id: int) -> None:
    """Delete a template no active schedule uses. Raises NotFound or ServiceError("in_use")."""
    template = get_template(user, template_id)
    in_use = db.session.scalar(
        select(Schedule.name).where(Schedule.template_id == template.id,
                                    Schedule.status == "active").limit(1)
    )
    if in_use:
        raise ServiceError(
            _l("The schedule %(name)s uses this template: delete it or pick another template.",
               name=in_use),
            "in_use",
        )
    name = template.name
    db.session.delete(template)
    db.session.commit()
    audit.record("template.delete", f"template:{template_id}", actor=user, name=name)


def next_run_name(template: JobTemplate) -> str:
    """The default name of the next job from this template: `<template>-<n>`."""
    return f"{template.name}-{(template.run_count or 0) + 1}"


def claim_run_number(template: JobTemplate) -> int:
    """Atomically take the next run number of the template (n only grows)."""
    db.session.execute(
        update(JobTemplate).where(JobTemplate.id == template.id)
        .values(run_count=JobTemplate.run_count + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    db.session.refresh(template, ["run_count"])
    return template.run_count


def form_defaults(template: JobTemplate) -> dict:
    """The run-job form pre-filled from the template."""
    return {**spec_of(template), "name": next_run_name(template)}


def run_template(user, template_id: int, overrides: Mapping | None = None, backend=None):
    """Run a job from the template; `overrides` may change the name and any field.

    The run number is taken whether or not the name was edited, so names never repeat.
    Raises NotFound, Forbidden("other_project") or the job's ServiceErrors.
    """
    template = get_template(user, template_id)
    data = {**spec_of(template), **dict(overrides or {})}
    number = claim_run_number(template)
    if not str(data.get("name") or "").strip():
        data["name"] = f"{template.name}-{number}"
    db.session.commit()
    return create_job(user, data, template=template, backend=backend)
