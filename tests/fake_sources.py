"""A fake EK80-like Source and a fake model for batch tests (registered by hand).

A fake ``.raw`` file is text: ``targets N`` (N targets), ``corrupt``, ``cw`` or ``none``.
"""

from __future__ import annotations

import os
import time
import zlib
from pathlib import Path

import numpy as np
import xarray as xr

from ts_toolkit import hookimpl
from ts_toolkit.errors import InputFileError
from ts_toolkit.spectra import make_spectra

FILE_GRID = np.arange(30e3, 50e3 + 1, 250.0)
MODEL_GRID = np.arange(34e3, 45e3 + 1, 500.0)


#: Files opened by this process (for FAKE_SOURCE_GATE).
OPENED_IN_THIS_PROCESS: list[str] = []


class FakeRawSource:
    """Reads the fake text .raw files."""

    name = "fake-raw"
    suffixes = (".raw",)

    def can_open(self, path):
        return Path(path).suffix.lower() == ".raw"

    def open(self, path, **options):
        time.sleep(float(os.environ.get("FAKE_SOURCE_DELAY", "0")))
        gate = os.environ.get("FAKE_SOURCE_GATE")  # after one file, wait for this file
        if gate and OPENED_IN_THIS_PROCESS:
            deadline = time.monotonic() + 120
            while not Path(gate).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        OPENED_IN_THIS_PROCESS.append(str(path))
        text = Path(path).read_text().strip()
        if text == "corrupt":
            raise InputFileError(f"corrupt or truncated EK80 file: {path}")
        if text == "cw":
            raise InputFileError(f"no FM (broadband) channels in {path}")
        n = 0 if text == "none" else int(text.split()[1])
        rng = np.random.default_rng(zlib.crc32(Path(path).name.encode()))
        ts = -50 + rng.normal(0, 3, (n, FILE_GRID.size))
        return make_spectra(
            FILE_GRID, ts, file=[str(path)] * n, channel=["38 kHz"] * n, range=rng.uniform(5, 50, n)
        )


class FakeModel:
    frequency = MODEL_GRID

    def predict(self, spectra):
        mean = np.nanmean(spectra["TS"].values, axis=1)
        kind = np.where(mean > -50, "gas", "liquid").astype(object)
        n = mean.size
        return xr.Dataset(
            {
                "kind": ("target", kind),
                "probability": ("target", np.full(n, 0.9)),
                "theta": ("target", np.full(n, 45.0)),
                "a": ("target", -mean * 1e-4),
                "b": ("target", -mean * 5e-5),
                "alpha": ("target", np.full(n, 2.0)),
                "Req": ("target", -mean * 6e-5),
            }
        )


@hookimpl
def register_sources(register):
    register(FakeRawSource)


def install(monkeypatch=None) -> None:
    """Load no entry-point plugins, register the fake source, fake the model loader."""
    import sys

    from ts_toolkit import modelfile, plugins

    if monkeypatch is not None:
        monkeypatch.setenv(plugins.ENV_VAR, "")
    else:  # a subprocess of its own
        os.environ[plugins.ENV_VAR] = ""
    plugins.reset_registry()
    plugins.registry().register_plugin(sys.modules[__name__], name="fake-sources")

    def load_model(path):
        if not Path(path).exists():
            raise InputFileError(f"model file not found: {path}")
        return FakeModel()

    if monkeypatch is not None:
        monkeypatch.setattr(modelfile, "load_model", load_model)
    else:
        modelfile.load_model = load_model


def make_cruise(folder: Path) -> dict[str, int]:
    """A folder of fake files; returns expected targets per good file name."""
    (folder / "leg1").mkdir(parents=True)
    good = {"leg1/a.raw": 3, "leg1/b.raw": 2, "c.raw": 4, "d.raw": 1, "e.raw": 2}
    for name, n in good.items():
        (folder / name).write_text(f"targets {n}")
    (folder / "bad.raw").write_text("corrupt")
    (folder / "cwonly.raw").write_text("cw")
    (folder / "empty.raw").write_text("none")
    (folder / "notes.txt").write_text("not a raw file")
    (folder / "model.tsm").write_text("fake model")
    return good
