"""``qwengraph workflow run|validate FILE``: scripted automation workflows from YAML files.

``run`` builds the tools the workflow names (``agents.toolbox``) and, only when it has model
steps, a :class:`ChatQwen`; ``validate`` checks the file without running anything or needing a
server. Problems print as ``file:line: message`` lines on stderr with a non-zero exit code.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
import yaml  # type: ignore[import-untyped]

from agents import cli_input
from agents.cli_common import clean_errors, fail
from agents.settings import resolve_model
from agents.toolbox import TOOL_NAMES, open_tools
from graphs.models.chat import ChatQwen
from graphs.workflow import ModelStep, ToolStep, WorkflowError, WorkflowSpec, check_workflow, parse_workflow
from graphs.workflow.check import walk
from graphs.workflow.compile import make_env, run_log

workflow_app = typer.Typer(
    name="workflow",
    help="Run and check scripted workflows (YAML).",
    no_args_is_help=True,
    add_completion=False,
)

FileArg = Annotated[str, typer.Argument(help="The workflow YAML file.")]
InputOpt = Annotated[
    list[str] | None,
    typer.Option("--input", "-i", help="An input as key=value (repeatable); values are read as YAML."),
]
ModelOpt = Annotated[
    str | None, typer.Option("--model", "-m", help="Model URI for model steps (else QWENGRAPH_MODEL).")
]
BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", help="Server URL (else QWENGRAPH_BASE_URL).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the outputs (and the log) as one JSON object.")]


def parse_inputs(pairs: list[str]) -> dict[str, Any]:
    """``["n=3", "xs=[1, 2]"]`` -> ``{"n": 3, "xs": [1, 2]}``; values are parsed as YAML scalars/lists."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise WorkflowError([f"--input {pair!r}: expected key=value"])
        try:
            values[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            values[key.strip()] = raw
    return values


def _uses(spec: WorkflowSpec) -> tuple[list[str], bool]:
    steps = [step for step, _, _ in walk(spec.steps, ("steps",))]
    tools = list(dict.fromkeys(s.tool for s in steps if isinstance(s, ToolStep)))
    return tools, any(isinstance(s, ModelStep) for s in steps)


def _load(file: str) -> WorkflowSpec:
    """The workflow in FILE, read through the CLI's input layer (binary and non-UTF-8 files refused)."""
    with clean_errors():
        text = cli_input.text_file(file, "workflow file")
    return parse_workflow(text, source=file)


def _report(err: WorkflowError) -> typer.Exit:
    for problem in err.problems[:-1]:
        fail(problem, err.exit_code)
    return fail(err.problems[-1] if err.problems else str(err), err.exit_code)


@workflow_app.command("validate")
def validate_command(file: FileArg) -> None:
    """Check FILE: structure, step ids, tool names, templates and loop bounds; nothing runs."""
    try:
        spec = _load(file)
        check_workflow(spec, make_env(), tools=TOOL_NAMES, has_model=True)
    except WorkflowError as err:
        raise _report(err) from None
    tools, has_model = _uses(spec)
    typer.echo(f"{file}: ok ({spec.name}: tools {', '.join(tools) or 'none'}; model steps: {has_model})")


@workflow_app.command("run")
def run_command(
    file: FileArg,
    inputs: InputOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run FILE with --input key=value pairs and print its outputs."""
    try:
        spec = _load(file)
        check_workflow(spec, make_env(), tools=TOOL_NAMES, has_model=True)
        given = parse_inputs(inputs or [])
    except WorkflowError as err:
        raise _report(err) from None
    tool_names, has_model = _uses(spec)
    with clean_errors():
        cli_input.base_url(base_url)
        for pair in inputs or []:
            cli_input.text(pair, "--input")
        try:
            llm = ChatQwen(model=resolve_model(model), base_url=base_url) if has_model else None
            with open_tools(tool_names) as tools:
                outputs, log = run_log(spec, given, {t.name: t for t in tools}, llm)
        except WorkflowError as err:
            raise _report(err) from None
    if as_json:
        typer.echo(json.dumps({"outputs": outputs, "log": log}, ensure_ascii=False, default=str))
        return
    for name, value in outputs.items():
        typer.echo(f"{name}: {value}")


def register(app: typer.Typer) -> None:
    """Add ``workflow run`` and ``workflow validate`` to the main app."""
    app.add_typer(workflow_app, name="workflow")
