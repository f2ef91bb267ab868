"""What many services share and no feature owns (issue #18 item 1).

Jobs, sessions, schedules, approvals, images, keys and whitelists all need the same few
things: who may act in a project (`membership`), how to reach Slurm and the users' files
(`backend`), the names of job and session states and the tags their Slurm jobs carry
(`states`), and which open sessions use a key or a whitelist (`in_use`). They used to live
in whichever feature module needed them first, so the features imported each other (a
21-module cycle hidden by function-level imports). Modules here import models, adapters
and `portal.services` itself (errors, users), never a feature service; the test
tests/unit/portal/test_import_cycles.py keeps it that way.
"""
