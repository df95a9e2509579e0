"""``demo``: the main job end to end on built-in defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app, console


@app.command("demo")
def demo_command(
    out_dir: Annotated[Path, typer.Option(help="Folder for the demo's files.")] = Path("demo-out"),
    targets: Annotated[int, typer.Option(help="Targets in the synthetic survey.")] = 8,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    model: Annotated[
        Path | None, typer.Option(help="Trained model (default: the bundled CNN).")
    ] = None,
    simulator: Annotated[str, typer.Option(help="Simulator for the targets' TS(f).")] = (
        "prolate-spheroid"
    ),
) -> None:
    """The main job on built-in defaults: a synthetic survey, classified and checked.

    Writes a synthetic survey with known targets (an EK80 FM file with the built-in
    plugins), runs `predict` on it with the bundled model and compares the result with
    the truth."""
    import numpy as np
    from rich import box
    from rich.progress import Progress
    from rich.table import Table

    from ..checks import check_count, check_seed
    from ..demo import run_demo

    check_count(targets, "--targets")
    check_seed(seed)

    console.rule(f"1. a synthetic survey: {targets} targets")
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"simulating TS(f) with {simulator}", total=targets)
        result = run_demo(
            out_dir, targets, seed, model, simulator, progress=lambda k: progress.advance(task, k)
        )
    console.print(f"{result.description}")
    console.print(f"wrote {result.raw} and its ground truth (demo-truth.nc/.csv)")
    console.rule("2. predict: single targets -> TS(f) -> model")
    console.print(f"{result.match.attrs['n_found']} single targets detected")
    console.rule("3. compared with the truth")
    table = Table(
        title="true/predicted (theta in degrees)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title_justify="left",
    )
    for col in ("range m", "kind", "predicted (p)", "a mm", "b mm", "alpha", "theta"):
        table.add_column(
            col, justify="left" if "kind" in col or "pred" in col else "right", no_wrap=True
        )
    for r in result.table:
        if not r["detected"]:
            table.add_row(f"{r['range_m']:.2f}", r["kind_true"], "not detected", "", "", "", "")
            continue
        table.add_row(
            f"{r['range_m']:.2f}",
            r["kind_true"],
            f"{r['kind_pred']} ({r['probability']:.2f})",
            f"{1e3 * r['a_true']:.1f}/{1e3 * r['a_pred']:.1f}",
            f"{1e3 * r['b_true']:.2f}/{1e3 * r['b_pred']:.2f}",
            f"{r['alpha_true']:.2f}/{r['alpha_pred']:.2f}",
            f"{r['theta_true']:.0f}/{r['theta_pred']:.0f}",
        )
    console.print(table)
    det = [r for r in result.table if r["detected"]]

    def mae(name: str, scale: float = 1.0) -> float:
        return (
            float(np.median([abs(r[f"{name}_pred"] - r[f"{name}_true"]) * scale for r in det]))
            if det
            else float("nan")
        )

    n_false = int(result.match.attrs["n_unmatched_found"])
    console.print(
        f"detected {result.n_detected} of {len(result.table)} targets "
        f"({n_false} false detection{'' if n_false == 1 else 's'}); kind correct for "
        f"{100 * result.kind_accuracy:.0f}%; median absolute error: a {mae('a', 1e3):.1f} mm, "
        f"b {mae('b', 1e3):.2f} mm, alpha {mae('alpha'):.2f}, theta {mae('theta'):.0f} deg"
    )
