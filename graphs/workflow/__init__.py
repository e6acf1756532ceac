"""Scripted automation workflows: a YAML (or Python) spec compiled to a LangGraph ``StateGraph``.

Example:
    >>> spec = load_workflow("flow.yaml")  # doctest: +SKIP
    >>> run_workflow(spec, {"amounts": [1, 2]}, {"calculator": calculator})  # doctest: +SKIP
"""

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
    parse_workflow,
    spec_from_data,
)

__all__ = [
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
    "load_workflow",
    "make_env",
    "parse_workflow",
    "prepare_inputs",
    "run_log",
    "run_workflow",
    "spec_from_data",
]
