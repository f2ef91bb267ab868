"""F7 job templates: create, list, edit, delete, run (and run as a schedule).

Named `jobtemplates` so it cannot be confused with the top-level `templates/` folder.
"""

from portal.jobtemplates import routes  # noqa: F401
from portal.jobtemplates.blueprint import bp  # noqa: F401 - the app registers it
