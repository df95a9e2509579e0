"""`make bench`: the long measurements whose results go to docs/ (not run in CI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = ["bench_spheroid.py", "bench_simulate.py"]


def main() -> None:
    for step in STEPS:
        script = HERE / step
        if not script.exists():
            print(f"skipping {step}: not present")
            continue
        print(f"== {step}")
        subprocess.run([sys.executable, str(script)], check=True)


if __name__ == "__main__":
    main()
