from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SelectField, StringField, TextAreaField


class ScheduleForm(FlaskForm):
    name = StringField(_l("Name"), render_kw={"maxlength": 48, "autocomplete": "off"})
    description = TextAreaField(_l("Description"), render_kw={"rows": 2})
    cron = StringField(_l("Trigger (cron: minute hour day month weekday)"), default="0 20 * * *",
                       render_kw={"autocomplete": "off", "spellcheck": "false"})
    timezone = StringField(_l("Timezone"), render_kw={"list": "timezones", "autocomplete": "off"})
    start = StringField(_l("Start (in that timezone; empty = now)"),
                        render_kw={"type": "datetime-local"})
    end = StringField(_l("End (optional)"), render_kw={"type": "datetime-local"})
    template_id = SelectField(_l("Template"), choices=[], validate_choice=False)
    mode = RadioField(_l("Mode"), default="single", validate_choice=False, choices=[
        SelectChoice("single", _l("Single-line: a run waits until the previous run finished")),
        SelectChoice("multi", _l("Multi-line: runs may overlap")),
    ])
    missed_policy = RadioField(_l("Runs missed while the portal was down"), default="skip",
                               validate_choice=False, choices=[
                                   SelectChoice("skip", _l("Skip them")),
                                   SelectChoice("run_late", _l("Run once, late")),
                               ])
