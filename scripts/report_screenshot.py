"""Make the screenshot of the HTML cruise report in docs (docs/figures/batch-report.png).

A synthetic cruise (two surveys from the project's own EK80 writer, 8 targets each, and a
truncated copy of one, which the batch keeps the complete pings of), `batch` with the
bundled model, then headless Chromium's screenshot of `cruise-report.html`:

    python scripts/report_screenshot.py [--work work/report] [--out docs/figures/batch-report.png]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=REPO / "work" / "report")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "figures" / "batch-report.png")
    ap.add_argument("--height", type=int, default=3000, help="screenshot height, pixels")
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("error: no chromium on PATH (apt-get install chromium)")
    from ts_toolkit.batch import run_batch
    from ts_toolkit.batch_report import write_report
    from ts_toolkit.demo import demo_space
    from ts_toolkit.modelfile import bundled_model_path
    from ts_toolkit_plugins.ek80.synth import make_survey, write_raw

    cruise = args.work / "cruise"
    cruise.mkdir(parents=True, exist_ok=True)
    for seed in (1, 2):
        survey = make_survey(8, seed, space=demo_space())
        write_raw(survey, cruise / f"survey-{seed}.raw")
    data = (cruise / "survey-1.raw").read_bytes()
    (cruise / "truncated.raw").write_bytes(data[: len(data) // 3])
    out = args.work / "out" / "cruise.nc"
    report = run_batch(
        [cruise], bundled_model_path(), out, options={"source": {"min_ts": -90.0}}, overwrite=True
    )
    print(write_report(report))
    html = out.with_name("cruise-report.html")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size=1280,{args.height}", f"--screenshot={args.out.resolve()}",
         html.resolve().as_uri()],
        check=True, capture_output=True,
    )  # fmt: skip
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
