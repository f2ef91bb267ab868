"""Adapters: the only code that touches the outside world (Slurm, sacctmgr, containers).

Everything here is plain Python configured by constructor arguments; nothing imports Flask.
Every external command goes through `adapters.runner.CommandRunner` (ARCHITECTURE.md
decision 2), and failures surface as the typed errors of `adapters.errors`.
"""
