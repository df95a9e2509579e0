"""The example notebook runs end to end in a headless kernel (its own cells assert that every
known target of its synthetic survey is found, at its range, with the right kind)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ts_toolkit.modelfile import bundled_model_path

NOTEBOOK = Path(__file__).parents[1] / "examples" / "notebooks" / "ts-toolkit-tour.ipynb"


@pytest.mark.skipif(bundled_model_path() is None, reason="no bundled model in this checkout")
def test_the_example_notebook_runs(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(c.get("outputs") for c in notebook.cells if c.cell_type == "code"), (
        "commit the notebook without outputs"
    )
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, when one fails
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "3 single targets" in text
