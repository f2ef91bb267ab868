"""Every adapter comes from adapters/factory.py (issue #18 item 5): no module under portal/
imports a concrete adapter module, and SLURM_BIN_DIR (Slurm 24.11's wrappers) reaches
every Slurm command the factory's adapters run, as it did when each built its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from adapters import factory, nodeaddr, runner
from adapters.runner import CommandResult, CommandRunner

PORTAL = Path(__file__).resolve().parents[3] / "portal"
# The modules that run commands or build a runner: only the factory builds them.
CONCRETE = {
    "adapters.runner",
    "adapters.scheduler.slurm",
    "adapters.scheduler.accounting",
    "adapters.accounts",
    "adapters.budget",
    "adapters.billing_weights",
    "adapters.pty",
    "adapters.userfiles",
    "adapters.nodeaddr",
}
# `from adapters import budget`, `from adapters.scheduler import SlurmScheduler`: the same.
CONCRETE_NAMES = {("adapters.scheduler", "SlurmScheduler")} | {
    tuple(module.rsplit(".", 1)) for module in CONCRETE
}


def concrete_imports(path: Path) -> list[str]:
    """`module` or `module.name` of every import of a concrete adapter in `path`, at any
    depth (function-level imports included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name in CONCRETE]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in CONCRETE:
                found.append(node.module)
            found += [f"{node.module}.{a.name}" for a in node.names
                      if (node.module, a.name) in CONCRETE_NAMES]
    return found


def test_no_portal_module_imports_a_concrete_adapter():
    offenders = {
        str(path.relative_to(PORTAL.parent)): names
        for path in sorted(PORTAL.rglob("*.py"))
        if (names := concrete_imports(path))
    }
    assert offenders == {}, "import these through adapters.factory instead"


def test_the_check_sees_function_level_and_package_imports(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text("from adapters.scheduler import JobSpec, SlurmScheduler\n"
                      "def f():\n    from adapters import budget\n"
                      "    import adapters.userfiles\n    from adapters.factory import UserFiles\n")
    assert concrete_imports(source) == ["adapters.scheduler.SlurmScheduler",
                                        "adapters.budget", "adapters.userfiles"]


class Recorder:
    """What CommandRunner.run was asked to run; every command answers with no output."""

    def __init__(self):
        self.argvs: list[list[str]] = []

    def commands(self) -> list[str]:
        return [argv[0] for argv in self.argvs]


@pytest.fixture
def recorder(monkeypatch):
    recording = Recorder()

    def run(_runner, argv, **_kw):
        recording.argvs.append(list(argv))
        return CommandResult(list(argv), 0, "", "")

    monkeypatch.setattr(CommandRunner, "run", run)
    monkeypatch.setattr(nodeaddr, "_cache", {})
    return recording


def _run_each_adapter(config: dict) -> list[str]:
    """One harmless read through every adapter the factory makes; the argvs' first words."""
    scheduler = factory.make_scheduler(config)
    scheduler.delete("42", as_user="alice")
    factory.make_accounting(scheduler, config).usage(["42"])
    factory.make_billing_weights(scheduler, config).read()
    factory.make_accounts(config).qos()
    factory.make_budget(config).read("p_proj")
    factory.node_address(scheduler, "gpu1")
    return [factory.attach_argv(config, "42", ["bash"])[0]]


def test_slurm_bin_dir_reaches_every_slurm_command(recorder):
    attach = _run_each_adapter({"SLURM_BIN_DIR": "/opt/slurm-24.11/bin"})
    assert recorder.commands() + attach == [
        f"/opt/slurm-24.11/bin/{name}"
        for name in ("scancel", "sacct", "scontrol", "sacctmgr", "scontrol", "scontrol",
                     "srun")
    ]


def test_without_slurm_bin_dir_commands_come_from_the_path(recorder, monkeypatch, tmp_path):
    """No SLURM_BIN_DIR: the first one on the command PATH, as `use_config` sets it."""
    for name in ("scancel", "sacct", "scontrol", "sacctmgr", "srun"):
        tool = tmp_path / name
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
    monkeypatch.setattr(runner, "_process_env", {})
    factory.use_config({"SLURM_BIN_DIR": str(tmp_path)})  # first on PATH, not in argv
    attach = _run_each_adapter({})
    assert all(path.startswith(f"{tmp_path}/") for path in recorder.commands() + attach)
    factory.use_config({})
    assert runner.command_path() == runner.MINIMAL_PATH


def test_runner_settings_come_from_the_config():
    made = factory.make_runner({"RUN_AS_PREFIX": ["sudo", "-n", "-u", "{user}", "--"],
                                "COMMAND_TIMEOUT": "12"})
    assert made.run_as_prefix == ["sudo", "-n", "-u", "{user}", "--"] and made.timeout == 12.0
    assert factory.make_runner({}).timeout == 30.0
    scheduler = factory.make_scheduler({"COMMAND_TIMEOUT": 5})
    assert scheduler.runner.timeout == 5.0
    files = factory.make_user_files(scheduler.runner)
    assert files.runner is scheduler.runner  # the users' files share the scheduler's runner


def test_accounts_and_budget_take_operator_cluster_and_dry_run():
    config = {"SLURM_OPERATOR": "slurm", "SLURM_CLUSTER": "devmulti", "ACCOUNTS_DRY_RUN": 1}
    accounts = factory.make_accounts(config)
    assert (accounts.operator, accounts.cluster, accounts.noop) == ("slurm", "devmulti", True)
    assert factory.make_budget(config).operator == "slurm"
    scheduler = factory.make_scheduler(config)
    assert factory.make_accounting(scheduler, config).operator == "slurm"
    assert factory.make_billing_weights(scheduler, config).operator == "slurm"


def test_a_fake_scheduler_has_no_node_addresses():
    class Fake:
        runner = object()

    assert factory.node_address(Fake(), "gpu1") == "gpu1"
