"""Replay of recorded Slurm output (tests/data/slurm/<version>/, made by record.py).

`replay(version, name)` gives a real `SlurmScheduler` whose runner, instead of starting
processes, checks that the adapter asks for exactly the recorded command lines and hands
back the exact recorded bytes and exit statuses. So these tests run the adapter's own
code (argv building, error mapping, decoding, parsing) on what Slurm really printed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from adapters.runner import CommandRunner
from adapters.scheduler import SlurmScheduler

DATA = Path(__file__).resolve().parents[2] / "data" / "slurm"
VERSIONS = sorted(p.name for p in DATA.iterdir() if (p / "index.json").is_file())
SLURM_BINS = {"sbatch", "squeue", "sacct", "scontrol", "scancel", "sinfo"}


def load_index(version: str) -> dict:
    return json.loads((DATA / version / "index.json").read_text())


def _normal(argv: list[str]) -> list[str]:
    """argv without what differs between machines: binary dirs and the user's home."""
    out = []
    for arg in argv:
        if arg.startswith("--chdir="):
            continue
        base = os.path.basename(arg)
        out.append(base if arg.startswith("/") and base in SLURM_BINS else arg)
    return out


class ReplayRunner(CommandRunner):
    """A CommandRunner that replays recorded calls instead of running programs."""

    def __init__(self, directory: Path, calls: list[dict]):
        super().__init__(run_as_prefix=["runuser", "-u", "{user}", "--"])
        self.directory = directory
        self.calls = list(calls)

    def _execute(self, argv, data, limit, cwd):
        assert self.calls, f"unexpected extra command: {argv}"
        call = self.calls.pop(0)
        assert _normal(argv) == _normal(call["argv"])
        return call["returncode"], self._read(call, "stdout"), self._read(call, "stderr")

    def _read(self, call: dict, kind: str) -> bytes:
        name = call.get(kind)
        return (self.directory / name).read_bytes() if name else b""


@pytest.fixture(params=VERSIONS)
def version(request) -> str:
    return request.param


@pytest.fixture
def recorded(version) -> dict:
    return load_index(version)


@pytest.fixture
def replay(version, recorded):
    """replay(name) → (scheduler, runner) replaying capture `name` of this version."""

    def make(name: str) -> tuple[SlurmScheduler, ReplayRunner]:
        if name not in recorded["captures"]:
            pytest.skip(f"{version} has no recording of {name!r} (see record.py options)")
        runner = ReplayRunner(DATA / version, recorded["captures"][name])
        return SlurmScheduler(runner=runner), runner

    return make
