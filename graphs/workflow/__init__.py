"""Scripted automation workflows: a YAML (or Python) spec compiled to a LangGraph ``StateGraph``.

The examples ship inside the package (``graphs/workflow/examples/*.yaml``, also reachable as
``notebooks/workflows`` in a clone): :func:`example_path` finds one by name.

Example:
    >>> spec = load_workflow(example_path("squares_report"))  # doctest: +SKIP
    >>> run_workflow(spec, {"numbers": [3, 4]}, {"calculator": calculator})  # doctest: +SKIP
"""

from pathlib import Path

from graphs.workflow.check import check_workflow
from graphs.workflow.compile import compile_workflow, make_env, prepare_inputs, run_log, run_workflow
from graphs.workflow.spec import (
    IfStep,
    InputSpec,
    LoopStep,
    ModelStep,
    ParallelStep,
    ToolStep,
    WorkflowError,
    WorkflowSpec,
    load_workflow,
    spec_from_data,
)

__all__ = [
    "EXAMPLES",
    "IfStep",
    "InputSpec",
    "LoopStep",
    "ModelStep",
    "ParallelStep",
    "ToolStep",
    "WorkflowError",
    "WorkflowSpec",
    "check_workflow",
    "compile_workflow",
    "example_path",
    "load_workflow",
    "make_env",
    "prepare_inputs",
    "run_log",
    "run_workflow",
    "spec_from_data",
]

EXAMPLES = Path(__file__).parent / "examples"
"""The example workflows shipped with the package."""


def example_path(name: str) -> Path:
    """The shipped example workflow ``name`` (``squares_report``, ``invoice_total``)."""
    path = EXAMPLES / f"{name.removesuffix('.yaml')}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in EXAMPLES.glob("*.yaml")))
        raise WorkflowError([f"no example workflow {name!r}; shipped: {known}"])
    return path
