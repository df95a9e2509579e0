"""The real CRIMAC JSON pings of ../shared/ek80 through the ``.raw`` path: each written to an
EK80 ``.raw`` file (``synth/recorded.py``), read back through echopype, and compared with the
JSON path (docs/ek80.md, "Real pings through the `.raw` path").

    python scripts/real_raw_check.py [--shared ../shared] [--round-base-rate]

Prints, per ping, the targets of ``extract`` at ``min_ts`` −50 and −90 dB on both paths and
the largest |TS_raw − TS_JSON| (dB), the seabed range, and ``sphere-check`` (no range window)
on the ``.raw`` file against the JSON. ``--round-base-rate`` reads with the reader's old
base rate, ``round(decimation / sample_interval)``, to reproduce the numbers before the fix.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PINGS = (
    ("crimac_tsf_sphere.json", (35.0,)),
    ("real/CRIMAC_SphereCentre.json", (35.0,)),
    ("real/pyEcholabEK80data.json", (22.0, 57.2)),
    ("real/CRIMAC_TSf_singlefish_2022.json", ()),
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--round-base-rate", action="store_true")
    args = ap.parse_args()

    from ts_toolkit_plugins.ek80 import reader
    from ts_toolkit_plugins.ek80.core import process_ping
    from ts_toolkit_plugins.ek80.crimac import load_crimac_record
    from ts_toolkit_plugins.ek80.detection import DetectionSettings
    from ts_toolkit_plugins.ek80.source import Ek80Source
    from ts_toolkit_plugins.ek80.spherecheck import sphere_check
    from ts_toolkit_plugins.ek80.synth.recorded import write_recorded_raw

    if args.round_base_rate:
        reader.base_rate = lambda rx, deci, dt: float(round(deci / dt))
    with tempfile.TemporaryDirectory() as tmp:
        for name, diameters in PINGS:
            src = args.shared / "ek80" / name
            ping, record = load_crimac_record(src)
            raw = Path(tmp) / (src.stem + ".raw")
            write_recorded_raw([ping], raw, record)
            for min_ts in (-50.0, -90.0):
                expected = process_ping(ping, DetectionSettings(min_ts=min_ts))
                ds = Ek80Source().open(raw, min_ts=min_ts)
                worst = max(
                    (
                        float(np.abs(ds["TS"].values[i] - t["TS"]).max())
                        for i, t in enumerate(expected.targets)
                    ),
                    default=np.nan,
                )
                print(
                    f"{name} extract min_ts {min_ts:g}: targets JSON {len(expected.targets)}"
                    f" raw {ds.sizes['target']}; max |TS_raw - TS_JSON| {worst:.2e} dB; "
                    f"seabed JSON {expected.bottom:.2f} m, raw "
                    f"{float(ds['bottom_range'][0]):.2f} m"
                )
            for d in diameters:
                on_json, on_raw = sphere_check(src, d * 1e-3), sphere_check(raw, d * 1e-3)
                st = on_raw.stats()
                print(
                    f"  sphere-check {d:g} mm on .raw: {on_raw.detections[0]['range']:.2f} m, "
                    f"median |measured - theory| {st['median_abs']:.3f} dB, "
                    f"{100 * st['within_1dB']:.0f}% within 1 dB (JSON "
                    f"{on_json.stats()['median_abs']:.3f} dB); max |TS_raw - TS_JSON| "
                    f"{np.abs(on_raw.measured - on_json.measured).max():.2e} dB"
                )


if __name__ == "__main__":
    main()
