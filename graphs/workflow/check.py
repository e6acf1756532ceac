"""Checks a valid-shaped workflow for what pydantic cannot see, before anything runs.

Duplicate step ids, unknown tools, model steps without a model, loops without a bound, template
syntax errors, and template variables that do not exist (``inputs.x`` not declared, ``steps.y``
not a step, a loop variable used outside its loop). Every problem names its file and line.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

from graphs.workflow.spec import (
    IfStep,
    Loc,
    LoopStep,
    ModelStep,
    ParallelStep,
    Step,
    ToolStep,
    WorkflowError,
    WorkflowSpec,
)

GLOBALS = frozenset({"inputs", "steps", "index"})


def walk(
    steps: list[Step], loc: Loc, scope: tuple[str, ...] = ()
) -> Iterator[tuple[Step, Loc, tuple[str, ...]]]:
    """Every step, nested ones included, with its location and the loop variables in scope."""
    for i, step in enumerate(steps):
        here = (*loc, i)
        yield step, here, scope
        if isinstance(step, IfStep):
            yield from walk(step.then, (*here, "then"), scope)
            yield from walk(step.else_, (*here, "else"), scope)
        elif isinstance(step, LoopStep):
            yield from walk(step.steps, (*here, "steps"), (*scope, step.as_))
        elif isinstance(step, ParallelStep):
            for name, branch in step.parallel.items():
                yield from walk(branch, (*here, "parallel", name), scope)


def templates(step: Step) -> Iterator[tuple[str, Loc, bool]]:
    """The step's own templates: ``(text, location inside the step, is_expression)``."""
    if isinstance(step, ToolStep):
        yield from _arg_templates(step.args, ("args",))
    elif isinstance(step, ModelStep):
        yield step.model, ("model",), False
    elif isinstance(step, IfStep):
        yield step.if_, ("if",), True
    elif isinstance(step, LoopStep):
        if step.for_each is not None:
            yield step.for_each, ("for_each",), True
        if step.while_ is not None:
            yield step.while_, ("while",), True


def _arg_templates(value: Any, loc: Loc) -> Iterator[tuple[str, Loc, bool]]:
    if isinstance(value, str):
        yield value, loc, False
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _arg_templates(item, (*loc, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _arg_templates(item, (*loc, i))


def check_workflow(
    spec: WorkflowSpec, env: SandboxedEnvironment, *, tools: Collection[str] | None, has_model: bool
) -> None:
    """Raise :class:`WorkflowError` listing every problem; ``tools=None`` skips the tool-name check."""
    problems: list[str] = []
    all_steps = list(walk(spec.steps, ("steps",)))
    ids = {step.id for step, _, _ in all_steps}
    seen: set[str] = set()
    for step, loc, scope in all_steps:
        say = _reporter(spec, problems, f"step {step.id!r}: ")
        if step.id in seen:
            say((*loc, "id"), f"duplicate step id {step.id!r}")
        seen.add(step.id)
        if isinstance(step, ToolStep) and tools is not None and step.tool not in tools:
            say(
                (*loc, "tool"),
                f"unknown tool {step.tool!r} (available: {', '.join(sorted(tools)) or 'none'})",
            )
        if isinstance(step, ModelStep) and not has_model:
            say((*loc, "model"), "a model step needs a chat model, and none was given")
        if isinstance(step, LoopStep):
            if (step.for_each is None) == (step.while_ is None):
                say(loc, "a loop needs exactly one of for_each or while")
            elif step.while_ is not None and step.max_iterations is None:
                say((*loc, "while"), "a while loop needs max_iterations (loops must be bounded)")
        for text, sub, is_expr in templates(step):
            for message in template_problems(env, text, is_expr, spec, ids, scope):
                say((*loc, *sub), message)
    for name, text in spec.outputs.items():
        say = _reporter(spec, problems, f"output {name!r}: ")
        for message in template_problems(env, text, False, spec, ids, ()):
            say(("outputs", name), message)
    if problems:
        raise WorkflowError(problems)


def _reporter(spec: WorkflowSpec, problems: list[str], prefix: str) -> Any:
    def say(loc: Loc, message: str) -> None:
        problems.append(f"{spec.where(loc)}: {prefix}{message}")

    return say


def template_problems(  # noqa: PLR0917 - one call site, all needed
    env: SandboxedEnvironment,
    text: str,
    is_expr: bool,
    spec: WorkflowSpec,
    ids: Collection[str],
    scope: tuple[str, ...],
) -> Iterator[str]:
    """What is wrong with one template: syntax, unknown variables, inputs or step ids."""
    try:
        tree = env.parse("{{ " + text + " }}" if is_expr else text)
    except TemplateSyntaxError as err:
        yield f"template error: {err.message}"
        return
    known = GLOBALS | set(scope) | {n.name for n in tree.find_all(nodes.Name) if n.ctx != "load"}
    for name in sorted({n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}):
        if name not in known:
            yield f"unknown variable {name!r} in {text!r}"
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(node, nodes.Getattr | nodes.Getitem)
        target = node.node
        key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if not isinstance(target, nodes.Name) or not isinstance(key, str):
            continue
        if target.name == "inputs" and key not in spec.inputs:
            yield f"unknown input {key!r} in {text!r}"
        elif target.name == "steps" and key not in ids:
            yield f"unknown step {key!r} in {text!r}"
