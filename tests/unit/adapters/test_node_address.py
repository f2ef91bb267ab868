"""Where the portal reaches a session's node (issue #15): Slurm's NodeAddr, cached; the
name itself when Slurm gives none or does not answer. And SLURM_CONF from the portal's
config reaches every command's environment."""

from __future__ import annotations

import pytest

from adapters import nodeaddr
from adapters import runner as runner_mod
from adapters.errors import SlurmUnreachable
from adapters.runner import CommandResult, CommandRunner


class FakeRunner(CommandRunner):
    def __init__(self, stdout: str = "", fail: bool = False):
        super().__init__(run_as_prefix=[], timeout=5)
        self.calls: list[list[str]] = []
        self.stdout, self.fail = stdout, fail

    def run(self, argv, **kw):
        self.calls.append(list(argv))
        if self.fail:
            raise SlurmUnreachable("down", list(argv))
        return CommandResult(list(argv), 0, self.stdout, "")


@pytest.fixture(autouse=True)
def _empty_cache():
    nodeaddr._cache.clear()
    yield
    nodeaddr._cache.clear()


def test_node_addr_is_used_and_cached():
    fake = FakeRunner("NodeName=gpu2 Arch=x86_64 NodeAddr=10.250.15.12 NodeHostName=gpu2\n")
    assert nodeaddr.node_address(fake, "gpu2", now=100.0) == "10.250.15.12"
    assert nodeaddr.node_address(fake, "gpu2", now=200.0) == "10.250.15.12"
    assert len(fake.calls) == 1 and fake.calls[0][-3:] == ["show", "node", "gpu2"]
    nodeaddr.node_address(fake, "gpu2", now=100.0 + nodeaddr.TTL_SECONDS + 1)
    assert len(fake.calls) == 2


def test_the_name_is_kept_when_slurm_gives_no_address_or_fails():
    assert nodeaddr.node_address(FakeRunner("NodeName=vm State=IDLE\n"), "vm") == "vm"
    assert nodeaddr.node_address(FakeRunner(fail=True), "gpu1") == "gpu1"
    odd = FakeRunner("NodeName=x NodeAddr=evil;rm\n")
    assert nodeaddr.node_address(odd, "x") == "x"


def test_a_bad_node_name_is_refused_before_any_command():
    fake = FakeRunner()
    with pytest.raises(ValueError):
        nodeaddr.node_address(fake, "-oProxyCommand=x")
    assert fake.calls == []


def test_slurm_conf_reaches_runners_made_after_it_is_set():
    try:
        runner_mod.use_slurm_conf("/srv/devmulti/slurm.conf")
        assert CommandRunner().env["SLURM_CONF"] == "/srv/devmulti/slurm.conf"
        runner_mod.use_slurm_conf(None)
        assert "SLURM_CONF" not in CommandRunner().env
    finally:
        runner_mod.use_slurm_conf(None)
