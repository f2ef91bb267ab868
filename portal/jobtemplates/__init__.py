"""F7 job templates: create, list, edit, delete, run (and run as a schedule).

Named `jobtemplates` so it cannot be confused with the top-level `templates/` folder.
"""

from flask import Blueprint

bp = Blueprint("jobtemplates", __name__, url_prefix="/templates")

from portal.jobtemplates import routes  # noqa: E402,F401
