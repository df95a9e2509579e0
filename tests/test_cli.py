"""Command line: version, plugins listing, one-line errors with exit status 2."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ts_toolkit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_version():
    from ts_toolkit import __version__

    r = run_cli("--version")
    assert r.returncode == 0
    assert __version__ in r.stdout


def test_plugins_lists_builtin_and_example_fast_and_without_heavy_imports():
    code = (
        "import sys, time; t=time.perf_counter();"
        "from ts_toolkit.cli import app;"
        "import typer.testing as tt;"
        "r = tt.CliRunner().invoke(app, ['plugins'], terminal_width=200);"
        "print(r.output);"
        "heavy = ('torch', 'echopype', 'sklearn', 'numba');"
        "print('HEAVY', sorted(m for m in heavy if m in sys.modules));"
        "print('ELAPSED', time.perf_counter()-t)"
    )
    # CPU seconds of the child, not wall time: the bar holds whatever else shares the CPU
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert r.returncode == 0, r.stderr
    assert "stanton-sphere" in r.stdout
    assert "HEAVY []" in r.stdout
    assert cpu < 2.0, f"ts-toolkit plugins took {cpu:.2f} s of CPU"


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "missing.nc"], "error: file not found: missing.nc"),
        (["predict", "missing.raw"], "error: file not found: missing.raw"),
    ],
)
def test_user_errors_are_one_line_exit_2(args, message):
    r = run_cli(*args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert lines == [message], r.stderr


def test_unreadable_file_is_one_line_error(tmp_path):
    d = tmp_path / "adir.nc"
    d.mkdir()
    r = run_cli("train", str(d))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"error: not a file: {d}"]


def test_help_everywhere():
    for cmd in ([], ["plugins"], ["train"], ["evaluate"], ["predict"], ["batch"]):
        r = run_cli(*cmd, "--help")
        assert r.returncode == 0, (cmd, r.stderr)
        assert "Usage" in r.stdout


def test_help_text_flows_as_paragraphs():
    """A docstring's wrapped source lines are joined, not shown with their line breaks."""
    r = run_cli("train", "--help")
    assert r.returncode == 0, r.stderr
    lines = [line.strip(" │") for line in r.stdout.splitlines()]
    assert "the 10 % validation split" in " ".join(" ".join(lines).split())
    assert "validation split." not in lines  # not a short line of its own
    listing = " ".join(
        " ".join(line.strip(" │") for line in run_cli("--help").stdout.splitlines()).split()
    )
    assert "predict Classify the single targets of an EK80 file with a trained model." in listing


def test_sigterm_is_handled_as_ctrl_c_only_where_it_has_its_default_action():
    import signal

    from ts_toolkit.signals import handle_interrupts

    before = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with handle_interrupts():
            with pytest.raises(KeyboardInterrupt):
                signal.raise_signal(signal.SIGTERM)
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # ignored by whoever started us: stays so
        with handle_interrupts():
            assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
            signal.raise_signal(signal.SIGTERM)  # ignored, nothing raised
    finally:
        signal.signal(signal.SIGTERM, before)


def test_an_interrupt_lost_in_compiled_code_is_raised_at_the_next_check():
    import signal
    import threading

    from ts_toolkit.signals import handle_interrupts, raise_pending_interrupt

    before = signal.getsignal(signal.SIGINT)
    try:  # as in a terminal, even where this test runs with SIGINT ignored (a background job)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with handle_interrupts():
            try:
                signal.raise_signal(signal.SIGINT)
            except KeyboardInterrupt:
                pass  # lost, as in numba-compiled code (which reports a SystemError instead)
            raised_in_worker: list[bool] = []

            def worker() -> None:  # a dask worker thread carries on: not its signal
                try:
                    raise_pending_interrupt()
                except KeyboardInterrupt:
                    raised_in_worker.append(True)

            thread = threading.Thread(target=worker)
            thread.start()
            thread.join()
            assert not raised_in_worker
            with pytest.raises(KeyboardInterrupt):
                raise_pending_interrupt()
            raise_pending_interrupt()  # raised once: nothing pending now
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)


def test_an_error_raised_while_an_interrupt_is_pending_is_that_interrupt():
    """numba reports a Ctrl-C inside compiled code as SystemError; around a call into a
    simulator plugin it comes out as KeyboardInterrupt, other errors unchanged."""
    import signal

    from ts_toolkit.signals import handle_interrupts, interrupt_from_error

    before = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with handle_interrupts():
            with pytest.raises(SystemError), interrupt_from_error():
                raise SystemError("nothing pending: an ordinary error")
            try:
                signal.raise_signal(signal.SIGINT)
            except KeyboardInterrupt:
                pass  # lost inside compiled code
            with pytest.raises(KeyboardInterrupt), interrupt_from_error():
                raise SystemError("CPUDispatcher(spectrum) returned a result with an exception set")
    finally:
        signal.signal(signal.SIGINT, before)
