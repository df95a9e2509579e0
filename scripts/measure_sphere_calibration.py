"""The numbers of docs/calibration.md: a synthetic sphere survey (the one of
tests/test_ek80_calibrate.py) with a +1.5 dB gain error and 10 % too wide beam widths in
the file, calibrated, then read with and without the calibration.

    python scripts/measure_sphere_calibration.py   # works in a temporary folder
"""

import tempfile
from pathlib import Path

import numpy as np

from ts_toolkit_plugins.ek80.calfile import calibration_xml
from ts_toolkit_plugins.ek80.source import Ek80Source
from ts_toolkit_plugins.ek80.sphere import MATERIALS, elastic_sphere_ts, water_density
from ts_toolkit_plugins.ek80.spherecal import calibration_entries, sphere_calibration
from ts_toolkit_plugins.ek80.synth import write_raw
from ts_toolkit_plugins.ek80.synth.spheregrid import make_sphere_survey


def main() -> None:
    survey = make_sphere_survey(
        0.0381, "wc", channels="70", grid=7, gain_error=1.5, beamwidth_factor=1.1, seed=3
    )
    tmp = Path(tempfile.mkdtemp())
    raw = tmp / "sphere.raw"
    write_raw(survey, raw)
    (r,) = sphere_calibration([raw], 0.0381, "wc")
    model = survey.settings.channels[0].model
    f = r.frequency
    ge = np.abs(r.gain - model.gain_db(f))
    print(f"gain error: median |.| {np.median(ge):.4f} dB, max |.| {ge.max():.4f} dB")
    for key in ("beamwidth_along", "beamwidth_athwart"):
        e = 100 * np.abs(r.beam[key] / model.beamwidths(f) - 1)
        print(f"{key}: median |relative error| {np.median(e):.3f} %, max {e.max():.3f} %")
    rms = np.sqrt(np.nanmean(r.residual**2))
    print(f"fit residual rms {rms:.4f} dB; scatter median {np.median(r.scatter):.4f} dB")
    xml = tmp / "sphere.cal.xml"
    xml.write_text(calibration_xml(calibration_entries([r]), {}))
    env = survey.settings.environment
    rho_w = water_density(env.temperature, env.salinity)
    for label, opts in (("file's own", {}), ("with calibration", {"calibration": str(xml)})):
        ds = Ek80Source().open(raw, **opts)
        ok = np.isfinite(ds.TS.values).all(0)
        theory = elastic_sphere_ts(ds.frequency.values[ok], 0.01905, *MATERIALS["wc"], rho_w, env.c)
        d = np.median(np.abs(ds.TS.values[:, ok] - theory), axis=1)
        print(
            f"{label}: per-detection median |TS - theory|: median {np.median(d):.4f} dB, "
            f"max {d.max():.4f} dB over {d.size} detections"
        )


if __name__ == "__main__":
    main()
