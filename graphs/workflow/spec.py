"""The workflow file format as pydantic models, and loading YAML with errors that name the line.

A workflow has ``name``, ``inputs``, ordered ``steps`` and ``outputs``. A step's kind is given by the
key it carries: ``tool``, ``model``, ``if``, ``for_each``/``while`` (a loop) or ``parallel``.
Structural errors come from pydantic; the YAML node tree (``yaml.compose``) maps each error's
location back to a line, so a message reads ``flow.yaml:7: steps[2].args: field required``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml  # type: ignore[import-untyped]  # no types-PyYAML in the dev extra (yet)
from pydantic import BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, Tag, ValidationError

from graphs.errors import GraphError
from graphs.exit_codes import ExitCode

Loc = tuple[str | int, ...]
InputType = Literal["any", "str", "int", "float", "bool", "list", "dict"]
_STRICT = ConfigDict(extra="forbid", populate_by_name=True)


class WorkflowError(GraphError):
    """A workflow is invalid or failed while running; ``problems`` holds one line per error."""

    exit_code = ExitCode.USAGE

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


class InputSpec(BaseModel):
    """One workflow input: an optional type (checked and converted) and an optional default."""

    model_config = _STRICT
    type: InputType = "any"
    default: Any = None
    description: str = ""

    @property
    def required(self) -> bool:
        """An input without a default must be given."""
        return "default" not in self.model_fields_set


class _StepBase(BaseModel):
    model_config = _STRICT
    id: str = Field(min_length=1)


class ToolStep(_StepBase):
    """Call a tool by name; string ``args`` are templates (``{{ inputs.x }}``, ``{{ steps.a.output }}``)."""

    tool: str
    args: dict[str, Any]


class ModelStep(_StepBase):
    """Send a prompt template to the chat model; the output is the answer text (thinking left out)."""

    model: str
    think: bool | None = None


class IfStep(_StepBase):
    """Evaluate ``if`` (an expression) and run ``then`` or ``else``; output is the branch's last output."""

    if_: str = Field(alias="if")
    then: list[Step]
    else_: list[Step] = Field(default_factory=list, alias="else")


class LoopStep(_StepBase):
    """Run ``steps`` for each item of ``for_each`` (bound to ``as``), or ``while`` a condition holds.

    A ``while`` loop needs ``max_iterations``; the output is the list of the body's last outputs.
    """

    for_each: str | None = None
    while_: str | None = Field(default=None, alias="while")
    as_: str = Field(default="item", alias="as", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    max_iterations: int | None = Field(default=None, ge=1)
    steps: list[Step] = Field(min_length=1)


class ParallelStep(_StepBase):
    """Run named branches concurrently; output maps each branch name to its last output."""

    parallel: dict[str, list[Step]] = Field(min_length=1)


def _step_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True)
    if isinstance(value, dict):
        for key, kind in (("tool", "tool"), ("model", "model"), ("if", "if"), ("parallel", "parallel")):
            if key in value:
                return kind
        if "for_each" in value or "while" in value:
            return "loop"
    return None


Step = Annotated[
    Annotated[ToolStep, Tag("tool")]
    | Annotated[ModelStep, Tag("model")]
    | Annotated[IfStep, Tag("if")]
    | Annotated[LoopStep, Tag("loop")]
    | Annotated[ParallelStep, Tag("parallel")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message="a step needs one of: tool, model, if, for_each, while, parallel",
    ),
]


class WorkflowSpec(BaseModel):
    """A whole workflow; build it in Python or with :func:`load_workflow` from YAML."""

    model_config = _STRICT
    name: str
    description: str = ""
    inputs: dict[str, InputSpec | None] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)
    outputs: dict[str, str] = Field(default_factory=dict)
    _source: str = PrivateAttr(default="")
    _node: yaml.Node | None = PrivateAttr(default=None)

    def input_spec(self, name: str) -> InputSpec:
        """The declared input (``name: null`` in YAML means any type, required)."""
        return self.inputs[name] or InputSpec()

    def where(self, loc: Loc) -> str:
        """``file:line`` (or the workflow name) for a location inside the spec."""
        if self._node is None:
            return f"workflow {self.name!r}"
        return f"{self._source}:{node_line(self._node, loc)}"


IfStep.model_rebuild()
LoopStep.model_rebuild()
ParallelStep.model_rebuild()
WorkflowSpec.model_rebuild()


def node_line(root: yaml.Node, loc: Loc) -> int:
    """The 1-based line of the deepest YAML node that ``loc`` reaches (tags and aliases skipped)."""
    node = root
    for part in loc:
        child = _child(node, part)
        if child is not None:
            node = child
    return int(node.start_mark.line) + 1


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]
    return None


def format_loc(loc: Loc) -> str:
    """``("steps", 2, "args")`` -> ``steps[2].args``."""
    text = ""
    for part in loc:
        text = f"{text}[{part}]" if isinstance(part, int) else (f"{text}.{part}" if text else part)
    return text or "(workflow)"


def spec_from_data(data: Any, *, source: str = "", node: yaml.Node | None = None) -> WorkflowSpec:
    """Validate plain data as a workflow; raise :class:`WorkflowError` naming each problem's line."""
    where = source or "workflow"
    if not isinstance(data, dict):
        raise WorkflowError([f"{where}:1: a workflow must be a mapping with name, inputs, steps, outputs"])
    try:
        spec = WorkflowSpec.model_validate(data)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            loc = _clean_loc(tuple(error["loc"]))
            line = f"{source}:{node_line(node, loc)}" if node is not None else where
            message = error["msg"][:1].lower() + error["msg"][1:]
            problems.append(f"{line}: {format_loc(loc)}: {message}")
        raise WorkflowError(problems) from None
    spec._source, spec._node = source, node
    return spec


def _clean_loc(loc: Loc) -> Loc:
    """Drop the step-kind tags pydantic inserts after a list index."""
    tags = {"tool", "model", "if", "loop", "parallel"}
    return tuple(p for i, p in enumerate(loc) if not (i and isinstance(loc[i - 1], int) and p in tags))


def load_workflow(path: str | Path) -> WorkflowSpec:
    """Read and validate a YAML workflow file (structure only; see :func:`check_workflow`)."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as err:
        raise WorkflowError([f"{file}: cannot read: {err.strerror or err}"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise WorkflowError([f"{file}:{line}: not UTF-8 text (byte 0x{raw[err.start]:02x})"]) from None
    return parse_workflow(text, source=str(file))


def parse_workflow(text: str, source: str = "<workflow>") -> WorkflowSpec:
    """Validate the YAML text of a workflow (structure only); ``source`` names it in messages."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        line = err.problem_mark.line + 1 if err.problem_mark else 1
        raise WorkflowError([f"{source}:{line}: invalid YAML: {err.problem}"]) from None
    except yaml.YAMLError as err:  # e.g. a control character the YAML reader refuses
        raise WorkflowError([f"{source}: invalid YAML: {str(err).splitlines()[0]}"]) from None
    if node is None:
        raise WorkflowError([f"{source}:1: the file is empty"])
    return spec_from_data(data, source=source, node=node)
