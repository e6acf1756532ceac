"""Every notebook in ``notebooks/`` runs headless, offline, from its committed cassettes.

Each notebook is executed top to bottom in a real Jupyter kernel (nbclient + ipykernel), with the
working directory ``notebooks/``, a fresh ``QWENGRAPH_HOME`` and the test suite's network guard
installed in the kernel first; an error in any cell fails the test with the cell and its traceback.
Committed notebooks carry no outputs, and each opens by saying what it shows, how long it takes,
that it runs offline, and the one line that switches it to a live model.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from graphs.draw import dot_available

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
GUARD = Path(__file__).with_name("kernel_guard.py")
CELL_TIMEOUT = 120  # seconds: a hung cell fails the test instead of the run (not a speed goal)


def execute(path: Path) -> tuple[nbformat.NotebookNode, float]:
    """Run the notebook at ``path`` (the guard cell first) and return it with its outputs, and the seconds."""
    nb = nbformat.read(path, as_version=4)
    guard = nbformat.v4.new_code_cell(GUARD.read_text(encoding="utf-8"))
    guard.id = "network-guard"
    nb.cells.insert(0, guard)
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    started = time.monotonic()
    client.execute()
    nb.cells.pop(0)
    return nb, time.monotonic() - started


@functools.cache
def executed(path: Path) -> tuple[nbformat.NotebookNode, float]:
    """Each notebook runs once per test session; several tests read its outputs."""
    return execute(path)


def outputs_of(nb: nbformat.NotebookNode, snippet: str) -> list[nbformat.NotebookNode]:
    """The outputs of the one code cell whose source contains ``snippet``."""
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and snippet in c.source]
    return list(cell.outputs)


def test_there_are_notebooks() -> None:
    names = {p.stem for p in NOTEBOOKS}
    assert len(names) >= 8, names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_has_no_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {index} has outputs: clear them before committing"
            assert cell.execution_count is None, f"{path.name} cell {index} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_opens_with_what_it_shows_and_the_live_switch(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    intro, setup = nb.cells[0], nb.cells[1]
    assert intro.cell_type == "markdown" and intro.source.startswith("# ")
    assert "Takes" in intro.source and "offline" in intro.source, intro.source
    assert setup.cell_type == "code" and 'MODE = "replay"' in setup.source
    assert '"live"' in setup.source, "the first code cell shows how to switch to a live model"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_offline(path: Path) -> None:
    nb, seconds = executed(path)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    print(f"{path.name}: {seconds:.1f} s")


@pytest.mark.slow
def test_the_quickstart_shows_a_live_run_and_a_drawn_graph() -> None:
    """In a real kernel, run() shows one output (updated in place, so still one) and draw() an SVG."""
    nb, _ = executed(ROOT / "notebooks" / "01_quickstart.ipynb")
    (shown,) = outputs_of(nb, "result = run(demo, model=MODEL)")
    assert shown.output_type == "display_data"
    html = shown.data["text/html"]
    assert 'class="qg-run"' in html and "running" not in html, "the final state replaced the first one"
    assert "tool result(s) written into the answer" in html and "4.022714375" in html
    assert "model calls" in html and "tokens" in html
    (react,) = outputs_of(nb, "react = display_run(")
    assert (
        'class="qg-tool tex2jax_ignore mathjax_ignore"' in react.data["text/html"]
        and "391" in react.data["text/html"]
    )
    (drawing,) = outputs_of(nb, 'draw(graph, title="ReAct")')
    if dot_available():
        assert ">call_model</text>" in drawing.data["image/svg+xml"]
    else:  # no Graphviz: the Mermaid text JupyterLab draws itself
        assert "call_model" in drawing.data["text/vnd.mermaid"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_readme_lists_the_notebook(path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Notebooks", 1)[1].split("\n## ", 1)[0]
    assert f"| `{path.name}` |" in section
