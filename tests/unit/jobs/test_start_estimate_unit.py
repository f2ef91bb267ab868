"""Issue #17, item 4: the start-time question is recorded on the page's path and answered
by the worker (sbatch --test-only as the user, here a fake), refusals in Slurm's words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.errors import CommandTimeout, SlurmRejected
from portal import db
from portal.models import StartEstimate
from portal.services import startest
from tests.support.members import make_member


class FakeSlurm:
    def __init__(self, answer):
        self.answer, self.asked = answer, []

    def test_start(self, spec, *, as_user):
        self.asked.append((spec.gres, spec.time, spec.account, as_user))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_question_answer_and_words(app):
    with app.test_request_context():
        user = make_member("ursula")
        spec = startest.spec_of("proja", "gpu", "a100", 2, 4, 8, 60)
        assert spec["gres"] == "gpu:a100:2" and spec["mem_mb"] == 8192
        first = startest.lookup(user, spec)
        assert first["state"] == "pending"
        assert startest.line(first)[1].startswith("Asking Slurm")
        assert startest.lookup(user, spec)["state"] == "pending"  # one row, not two
        assert db.session.query(StartEstimate).count() == 1

        later = datetime.now(UTC) + timedelta(hours=2)
        slurm = FakeSlurm(later)
        assert startest.worker_step(slurm) == {"start_estimates": 1}
        assert slurm.asked == [("gpu:a100:2", 60, "proja", "nobody")]
        known = startest.lookup(user, spec)
        assert known["state"] == "known" and known["fresh"]
        text = startest.line(known)[1]
        assert "expects to start this at" in text and "in about 1 h 59 min" in text
        assert startest.worker_step(slurm) == {}  # answered: not asked again


def test_refusal_and_no_answer(app):
    with app.test_request_context():
        user = make_member("ursula")
        spec = startest.spec_of("proja", None, None, 0, 1, 1, 30)
        startest.lookup(user, spec)
        assert startest.worker_step(FakeSlurm(CommandTimeout("slow", []))) == {
            "start_estimates_failed": 1}
        assert startest.lookup(user, spec)["state"] == "pending"  # asked again next cycle
        startest.worker_step(FakeSlurm(SlurmRejected("Invalid account", [], "")))
        refused = startest.lookup(user, spec)
        assert refused["state"] == "refused"
        assert "Invalid account" in startest.line(refused)[1]
