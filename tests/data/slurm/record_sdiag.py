"""Record real `sdiag` output for the sdiag parser's replay test (adapters/sdiag.py).

Run as root on a machine whose dev cluster is up (etc/devcluster/cluster.sh status):

    .venv/bin/python tests/data/slurm/record_sdiag.py
    BIN_DIR=/var/lib/slurm-gpu-portal-2411/bin .venv/bin/python tests/data/slurm/record_sdiag.py

Writes tests/data/slurm/<major.minor>/sdiag.txt: the exact stdout of `sdiag` on the
running Slurm, taken twice around one `squeue` (sdiag.txt, then sdiag_after.txt), so the
test can check that the difference counts that squeue's RPC. Read-only: no reset.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from adapters import runner as runner_mod  # noqa: E402


def main() -> None:
    bin_dir = os.environ.get("BIN_DIR")
    runner_mod.use_slurm_bin_dir(bin_dir)

    def tool(name: str) -> str:
        return os.path.join(bin_dir, name) if bin_dir else name

    version = subprocess.run([tool("sinfo"), "--version"], capture_output=True, text=True,
                             check=True).stdout.split()[-1]
    out = HERE / ".".join(version.split(".")[:2])
    out.mkdir(exist_ok=True)
    before = subprocess.run([tool("sdiag")], capture_output=True, text=True, check=True)
    subprocess.run([tool("squeue"), "--noheader"], capture_output=True, check=True)
    after = subprocess.run([tool("sdiag")], capture_output=True, text=True, check=True)
    (out / "sdiag.txt").write_text(before.stdout)
    (out / "sdiag_after.txt").write_text(after.stdout)
    print(f"wrote {out}/sdiag.txt and sdiag_after.txt")


if __name__ == "__main__":
    main()
