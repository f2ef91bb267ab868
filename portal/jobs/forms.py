"""The run-job and template forms. Fields render the page and carry CSRF; the values are
validated by portal.services.jobspec (the same rules as the API and the CLI)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)


class JobForm(FlaskForm):
    name = StringField(_l("Name"), render_kw={"maxlength": 64, "autocomplete": "off"})
    node_count = StringField(_l("Nodes"), default="1",
                             render_kw={"type": "number", "min": 1, "step": 1})
    gpu_model = SelectField(_l("GPU model"), choices=[], validate_choice=False)
    gpu_count = StringField(_l("GPU count"), default="0",
                            render_kw={"type": "number", "min": 0, "step": 1})
    cpus = StringField(_l("CPU cores"), default="1",
                       render_kw={"type": "number", "min": 1, "step": 1})
    mem_gb = StringField(_l("Memory (GB)"), default="4",
                         render_kw={"type": "number", "min": 1, "step": 1})
    shm_gb = StringField(_l("Shared memory (GB, 0 = off)"), default="0",
                         render_kw={"type": "number", "min": 0, "step": 1})
    time_limit = StringField(_l("Time limit"),
                             render_kw={"autocomplete": "off", "spellcheck": "false",
                                        "inputmode": "text", "placeholder": "4:00:00"})
    image_type = RadioField(_l("Image type"), default="public", validate_choice=False,
                            choices=[SelectChoice("public", _l("Public image")),
                                     SelectChoice("custom", _l("Custom image"))])
    image = SelectField(_l("Image and framework"), choices=[], validate_choice=False)
    command = TextAreaField(_l("Command"), render_kw={"rows": 6, "spellcheck": "false"})
    template_id = HiddenField()


def fill_choices(form: JobForm, images, gpu_models) -> None:
    """Options from the cluster cache (GPU models) and the images the user may run (each
    with its type, so the page lists only the chosen image type's)."""
    form.gpu_model.choices = [SelectChoice("", _l("No GPU"))] + [
        SelectChoice(m, m) for m in gpu_models]
    form.image.choices = [SelectChoice(i.key, f"{i.framework} — {i.name}",
                                       render_kw={"data-type": i.type}) for i in images]
