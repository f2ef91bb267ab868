"""Admin forms. Validation lives in portal.services; these carry fields and CSRF only."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField, TextAreaField
from wtforms.widgets import CheckboxInput, ListWidget


class SettingsForm(FlaskForm):
    """Dates, quota and limits: admin-only project settings."""

    start_date = StringField(_l("Start date"))
    end_date = StringField(_l("End date"))
    gpu_limit = StringField(_l("GPU quota"))
    cpu_limit = StringField(_l("CPU quota"))
    mem_limit_gb = StringField(_l("Memory quota (GB)"))
    gpu_per_user = StringField(_l("GPUs per user"))
    max_wall_minutes = StringField(_l("Session time limit (minutes)"))
    idle_reclaim_minutes = StringField(_l("Idle reclaim limit (minutes)"))
    approval_threshold = StringField(_l("Approval threshold (GPUs per request)"))
    members_see_sessions = BooleanField(_l("Members may see each other's sessions"))

    def settings(self) -> dict:
        return {name: self[name].data for name in (
            "start_date", "end_date", "gpu_limit", "cpu_limit", "mem_limit_gb", "gpu_per_user",
            "max_wall_minutes", "idle_reclaim_minutes", "members_see_sessions",
            "approval_threshold")}


class CreateProjectForm(SettingsForm):
    account = StringField(_l("Slurm account"))
    name = StringField(_l("Name"))
    description = TextAreaField(_l("Description"))
    managers = StringField(_l("Managers (usernames, comma-separated)"))
    members = StringField(_l("Members (usernames, comma-separated)"))


class ProjectSettingsForm(SettingsForm):
    extra_qos = SelectMultipleField(_l("Extra QOS the project may use"), choices=[],
                                    validate_choice=False, option_widget=CheckboxInput(),
                                    widget=ListWidget(prefix_label=False))


class DecisionForm(FlaskForm):
    message = TextAreaField(_l("Message"))


class QosForm(FlaskForm):
    name = StringField(_l("Name"))
    description = StringField(_l("Description"))
    priority = StringField(_l("Priority"))
    grp_gpus = StringField(_l("GPUs in use at once (all users)"))
    grp_gpus_by_model = StringField(_l("Per GPU model, e.g. a100=2"))
    grp_cpus = StringField(_l("CPUs in use at once"))
    grp_mem_gb = StringField(_l("Memory in use at once (GB)"))
    max_gpus_per_user = StringField(_l("GPUs per user"))
    max_cpus_per_user = StringField(_l("CPUs per user"))
    max_wall_minutes = StringField(_l("Longest run (minutes)"))
    max_jobs_per_user = StringField(_l("Running jobs per user"))

    FIELDS = ("description", "priority", "grp_gpus", "grp_gpus_by_model", "grp_cpus",
              "grp_mem_gb", "max_gpus_per_user", "max_cpus_per_user", "max_wall_minutes",
              "max_jobs_per_user")

    def values(self) -> dict:
        return {name: self[name].data for name in self.FIELDS}


class UserForm(FlaskForm):
    username = StringField(_l("Username"))
    unix_user = StringField(_l("Unix account (default: the username)"))
    display_name = StringField(_l("Display name"))
    email = StringField(_l("Email"))
    is_admin = BooleanField(_l("Platform administrator"))
