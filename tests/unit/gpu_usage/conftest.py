from tests.unit.projects.conftest import fake, people, project  # noqa: F401
