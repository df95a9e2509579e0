"""Ctrl-C / SIGTERM: exit 130 within 5 s even inside a long compiled chunk, keeping what
finished; two runs on the same output: the second is refused (a lock), and a lock left by a
killed run does not block.

All runs are real processes: the command line as a user runs it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import fake_simulators
from ts_toolkit.errors import OutputBusyError
from ts_toolkit.locks import lock_path, output_lock
from ts_toolkit.parameters import space_from_mapping
from ts_toolkit.simulation import simulate
from ts_toolkit.spectra import read_spectra

TESTS = str(Path(__file__).parent)

# a long chunk: one spheroid on 18,335 frequencies (within the grid limit of 20,000) at
# 200-211 kHz takes about 16 s in one target on this machine
LONG_SPACE = """
[frequency]
bands = "200-211 kHz"
step = 0.0006

[kinds.gas]
count = 2

[kinds.liquid]
count = 2
"""

# the CLI with the fake plugins registered in this process (simulators, or sources + model)
CLI_RUNNER = """
import sys
sys.path.insert(0, {tests!r})
import {fakes}
{fakes}.install()
from ts_toolkit.cli import main
sys.argv = ["ts-toolkit", *{argv!r}]
main()
"""


def _popen(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        # Ctrl-C as in a terminal, even where this test runs with SIGINT ignored (a background job)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.default_int_handler),
    )


def _cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "ts_toolkit", *argv]


def _fake_cli(fakes: str, *argv: str) -> list[str]:
    code = CLI_RUNNER.format(tests=TESTS, fakes=fakes, argv=list(argv))
    return [sys.executable, "-c", code]


def _wait_for(predicate, proc: subprocess.Popen, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the run ended before {what}: {err[-2000:]}")
        assert time.time() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.1)


def _chunks(out: Path) -> list[Path]:
    return sorted(out.with_name(out.name + ".parts").glob("chunk-*.npz"))


# --- signals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scheduler, sig, group",
    [
        ("synchronous", signal.SIGTERM, False),
        ("synchronous", signal.SIGINT, True),
        ("threads", signal.SIGTERM, False),
        ("processes", signal.SIGTERM, False),
        ("processes", signal.SIGINT, True),
    ],
    ids=["synchronous-TERM", "synchronous-INT-group", "threads-TERM", "processes-TERM",
         "processes-INT-group"],
)  # fmt: skip
def test_a_long_chunk_stops_within_5_s(tmp_path: Path, scheduler: str, sig, group: bool) -> None:
    """`simulate` used to ignore SIGTERM and Ctrl-C until its numba-compiled chunk ended
    (10 minutes in the report), and exited 2 where the README says 130. ``group``: the
    signal goes to the whole process group, as Ctrl-C in a terminal (workers too)."""
    space = tmp_path / "long.toml"
    space.write_text(LONG_SPACE)
    out = tmp_path / "long.nc"
    cmd = _cli("simulate", "--out", str(out), "--space", str(space), "--chunk-size", "1")
    proc = _popen(cmd + ["--scheduler", scheduler, "--workers", "2"])
    manifest = out.with_name(out.name + ".parts") / "manifest.json"
    _wait_for(manifest.exists, proc, 240, "the run started")
    time.sleep(3.0 if scheduler == "synchronous" else 12.0)  # inside the first chunks
    assert proc.poll() is None
    t0 = time.monotonic()
    if group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 130, err
    assert elapsed < 5.0, f"took {elapsed:.1f} s to stop"
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        "error: interrupted; finished chunks are kept - re-run the same command to resume"
    )
    assert not out.exists() and len(_chunks(out)) < 4  # stopped mid-way, parts kept
    assert not lock_path(out).exists()


def test_batch_exits_130_on_sigterm(tmp_path: Path) -> None:
    import fake_sources

    fake_sources.make_cruise(tmp_path)
    out = tmp_path / "out" / "c.nc"
    argv = ["batch", str(tmp_path), "--model", str(tmp_path / "model.tsm"), "--out", str(out)]
    gate = tmp_path / "never"  # after its first file the run waits here until the signal
    env = dict(os.environ, FAKE_SOURCE_GATE=str(gate), TS_TOOLKIT_PLUGINS="")
    proc = _popen(_fake_cli("fake_sources", *argv, "--scheduler", "synchronous"), env=env)
    work = out.with_name(out.name + ".work")
    _wait_for(lambda: len(list(work.glob("*.json"))) >= 1, proc, 120, "a file was done")
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and time.monotonic() - t0 < 5.0, err
    assert err.strip().splitlines()[-1] == "error: interrupted"
    assert 1 <= len(list(work.glob("*.json"))) < 8 and not out.exists()


# --- locks -----------------------------------------------------------------------------


def _slow_simulate_cmd(out: Path) -> list[str]:
    return _fake_cli(
        "fake_simulators",
        "simulate", "--out", str(out), "--simulator", "slow-toy", "--n", "40",
        "--scheduler", "synchronous", "--chunk-size", "4", "--seed", "9",
    )  # fmt: skip


def test_a_second_simulate_on_the_same_output_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "s.nc"
    env = dict(os.environ, SLOW_TOY_DELAY="0.5")
    first = _popen(_slow_simulate_cmd(out), env=env)
    _wait_for(lambda: len(_chunks(out)) >= 1, first, 120, "a chunk was written")
    second = _popen(_slow_simulate_cmd(out), env=env)
    _, err = second.communicate(timeout=120)
    n_during = len(_chunks(out))
    assert second.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {out} is being written by another ")
    assert f"pid {first.pid} " in lines[0]
    assert first.poll() is None and n_during < 10  # the first is still at work
    _, err1 = first.communicate(timeout=120)
    assert first.returncode == 0, err1
    assert read_spectra(out).sizes["target"] == 40
    assert not lock_path(out).exists()


def test_a_lock_left_by_a_killed_run_does_not_block(tmp_path: Path) -> None:
    out = tmp_path / "k.nc"
    env = dict(os.environ, SLOW_TOY_DELAY="0.3")
    first = _popen(_slow_simulate_cmd(out), env=env)
    _wait_for(lambda: len(_chunks(out)) >= 2, first, 120, "two chunks were written")
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert lock_path(out).exists()  # left behind, unlocked
    assert f"pid {first.pid} " in lock_path(out).read_text()
    done_before = len(_chunks(out))
    env["SLOW_TOY_DELAY"] = "0"
    again = subprocess.run(_slow_simulate_cmd(out), env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert f"{done_before} of 10 chunks resumed" in " ".join(again.stdout.split())
    assert read_spectra(out).sizes["target"] == 40 and not lock_path(out).exists()


def test_a_second_batch_on_the_same_output_is_refused(tmp_path: Path) -> None:
    import fake_sources

    fake_sources.make_cruise(tmp_path)
    out = tmp_path / "out" / "c.nc"
    argv = ["batch", str(tmp_path), "--model", str(tmp_path / "model.tsm"), "--out", str(out)]
    argv += ["--scheduler", "synchronous"]
    gate = tmp_path / "go-on"  # the first run holds after its first file until this exists
    env = dict(os.environ, FAKE_SOURCE_GATE=str(gate), TS_TOOLKIT_PLUGINS="")
    first = _popen(_fake_cli("fake_sources", *argv), env=env)
    work = out.with_name(out.name + ".work")
    _wait_for(lambda: len(list(work.glob("*.json"))) >= 1, first, 120, "a file was done")
    for extra in ([], ["--no-resume"]):  # --no-resume must not delete the running one's work
        second = subprocess.run(
            _fake_cli("fake_sources", *argv, *extra), env=env, capture_output=True, text=True
        )
        assert second.returncode == 2, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "is being written by another run" in lines[0]
        assert f"pid {first.pid} " in lines[0]
        assert len(list(work.glob("*.json"))) >= 1
    assert first.poll() is None  # still held at the gate: the refusals were real
    gate.touch()
    _, err = first.communicate(timeout=120)
    assert first.returncode == 1, err  # the cruise has failing files by design
    assert read_spectra(out).sizes["target"] == 12 and not lock_path(out).exists()


def test_the_lock_is_reentrant_in_one_process_and_released(tmp_path: Path) -> None:
    out = tmp_path / "x.nc"
    with output_lock(out) as path:
        assert path.exists()
        with output_lock(out):  # the same process: allowed (batch --no-resume, then run)
            pass
        assert path.exists()
        code = (
            "import sys; from ts_toolkit.locks import output_lock\n"
            f"with output_lock({str(out)!r}): pass\n"
        )
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert r.returncode != 0 and "OutputBusyError" in r.stderr
    assert not lock_path(out).exists()
    with output_lock(out):
        pass


def test_simulate_in_process_refuses_a_held_output(tmp_path: Path) -> None:
    fake_simulators.install()
    out = tmp_path / "held.nc"
    code = (
        "import time; from ts_toolkit.locks import output_lock\n"
        f"with output_lock({str(out)!r}):\n    print('locked', flush=True); time.sleep(30)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        space = space_from_mapping({"frequency": {"bands": "34-45 kHz", "step": 1.0}})
        with pytest.raises(OutputBusyError, match=f"pid {holder.pid} "):
            simulate(space.with_total(4), out, simulator="slow-toy", scheduler="synchronous")
        assert not out.with_name("held.nc.parts").exists()  # nothing done
    finally:
        holder.kill()
        holder.wait()
    report = simulate(
        space.with_total(4), out, simulator="slow-toy", scheduler="synchronous", progress=False
    )
    assert report.ok and np.isfinite(read_spectra(out)["TS"].values).all()


# --- the spheroid solver in blocks ----------------------------------------------------------


def test_the_solver_in_blocks_gives_the_values_of_one_call_bit_for_bit(monkeypatch) -> None:
    """Blocks of one frequency (the worst case) carry the warm-start state exactly."""
    from ts_toolkit_plugins.spheroid import prolate, solver

    f = np.linspace(20e3, 200e3, 120)
    monkeypatch.setattr(prolate, "BLOCK_SECONDS", 0.0)  # every block shrinks to 1 frequency
    for boundary, theta in (("fluid", 70.0), ("rigid", 20.0), ("pressure-release", 90.0)):
        blocks, ok_b = prolate.backscatter_amplitude(
            f, 0.02, 0.004, theta, 1050.0, 1520.0, 1027.0, 1500.0, boundary
        )
        one, ok_1 = solver.spectrum(
            f, 0.02, 0.004, theta, 1050 / 1027, 1520 / 1500, 1500.0,
            prolate.BOUNDARIES[boundary], 0, 0, -1, -1,
        )  # fmt: skip
        assert blocks.tobytes() == one.tobytes() and np.array_equal(ok_b, ok_1), boundary


def test_a_worker_thread_stops_at_the_next_block_after_an_interrupt(monkeypatch) -> None:
    import threading

    from ts_toolkit import signals
    from ts_toolkit.errors import Interrupted
    from ts_toolkit_plugins.spheroid import prolate

    caught: list[BaseException] = []

    def work() -> None:
        try:
            prolate.backscatter_amplitude(
                np.linspace(34e3, 45e3, 50), 0.02, 0.004, 60.0, 1050, 1520, 1027, 1500
            )
        except BaseException as exc:  # noqa: BLE001 - what the thread saw
            caught.append(exc)

    monkeypatch.setattr(signals._stop, "is_set", lambda: True)  # as after Ctrl-C
    t = threading.Thread(target=work)
    t.start()
    t.join(30)
    assert len(caught) == 1 and isinstance(caught[0], Interrupted)
    monkeypatch.undo()
    work()  # no interrupt: runs to the end in this (main) thread
    assert len(caught) == 1
