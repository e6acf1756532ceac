"""The ``run_python`` tool: run model-written Python in a sandboxed session and report what happened.

Errors follow :mod:`tools.calculator`: nothing is raised through LangChain. Problems of the code
itself (exceptions, timeouts, memory) are ordinary results the model reads; problems of the runner
(:class:`~tools.errors.ToolError`, e.g. no sandbox) come back as ``"Error: <message>"`` content with
``status="error"`` via ``handle_tool_error``.
"""

from __future__ import annotations

from langchain_core.tools import BaseTool
from pydantic import BaseModel, Field

from tools.code_runner.base import MIB, CodeSandbox, RunResult
from tools.model_tool import model_facing_tool

__all__ = ["NO_OUTPUT", "describe", "format_result", "make_run_python"]

NO_OUTPUT = "(no output; print() what you want to see)"
"""What :func:`format_result` says for a run that printed nothing and raised nothing."""

_TRACEBACK_CHARS = 2000


def describe(sandbox: CodeSandbox) -> str:
    """The tool description the model sees, with the limits that really hold on this machine.

    A sandbox that can say which limits it enforces for a whole session (``enforced()``, as
    :class:`~tools.code_runner.session.PooledSandbox` does) gets those stated as totals; otherwise
    the per-process limits are stated.
    """
    limits = sandbox.limits
    enforced = getattr(sandbox, "enforced", None)
    held = enforced() if callable(enforced) else None
    if held is not None and held.memory is not None:
        memory = f"{held.memory // MIB} MiB of memory in total (every process and the files you write count)"
    else:
        memory = f"{limits.address_space // MIB} MiB per process"
    processes = f", {held.processes} processes and threads at once" if held and held.processes else ""
    files = "- Files you write go to the current directory (the only writable place"
    if held is not None and held.workspace_bytes is not None:
        files += (
            f": /workspace, {held.workspace_bytes // MIB} MiB; its files are lost if the session restarts"
        )
    files += ").\n"
    return (
        "Run Python 3 code and get its output. Use it for any computation, data handling or check "
        "that is easier in code than in your head.\n\n"
        "- State persists between calls, like a notebook: variables, functions and imports stay "
        "defined. If the value of the last line is not None it is printed, like in a notebook.\n"
        "- Print what you need to see; only stdout, stderr and errors come back.\n"
        f"{files}"
        "- No network access; no package installs (the standard library and the installed packages, "
        "e.g. numpy or sympy if present, are available).\n"
        f"- Limits per call: {limits.wall_seconds:g} s wall time, {limits.cpu_seconds} s CPU, "
        f"{limits.output_bytes // 1024} KiB of output. Memory: {memory}{processes}. "
        "A timeout or crash restarts the session and its variables are lost."
    )


def _trim(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit // 2] + "\n[... trimmed ...]\n" + text[-limit // 2 :]


def format_result(result: RunResult) -> str:
    """The text the model reads: output, errors, and a clear note on limits hit."""
    parts: list[str] = []
    if result.state_lost and result.exit_reason not in ("timeout", "killed"):
        parts.append("[Note: the session was restarted before this call; earlier variables are lost.]")
    if result.stdout:
        note = "\n[stdout truncated: output limit reached]" if result.stdout_truncated else ""
        parts.append(f"stdout:\n{result.stdout.rstrip()}{note}")
    if result.stderr:
        note = "\n[stderr truncated: output limit reached]" if result.stderr_truncated else ""
        parts.append(f"stderr:\n{result.stderr.rstrip()}{note}")
    if result.exit_reason == "timeout":
        parts.append(f"Timed out: {result.exception}. The session was restarted; earlier variables are lost.")
    elif result.exit_reason == "killed":
        parts.append(f"Killed: {result.exception}. The session was restarted; earlier variables are lost.")
    elif result.exit_reason == "memory" and result.state_lost:
        restarted = "The session was restarted; earlier variables are lost."
        parts.append(f"Memory limit reached: {result.exception}. {restarted}")
    elif result.exit_reason == "memory" and result.traceback is None:
        parts.append(
            f"Memory limit reached: {result.exception}. Use less memory, e.g. process data in chunks."
        )
    elif result.exit_reason == "memory":
        parts.append("Memory limit reached (MemoryError). Use less memory, e.g. process data in chunks.")
        if result.traceback:
            parts.append(_trim(result.traceback.rstrip(), _TRACEBACK_CHARS))
    elif result.traceback:
        parts.append(_trim(result.traceback.rstrip(), _TRACEBACK_CHARS))
    elif result.exception:
        parts.append(result.exception)
    if not parts:
        parts.append(NO_OUTPUT)
    return "\n".join(parts)


class RunPythonInput(BaseModel):
    """The tool's single argument."""

    code: str = Field(description="Python source code to run; print() the values you want to see.")


def make_run_python(sandbox: CodeSandbox, session_id: str = "default") -> BaseTool:
    """Build the ``run_python`` tool bound to one session of ``sandbox`` (e.g. one per agent thread)."""

    def run(code: str) -> str:
        return format_result(sandbox.run(code, session_id))

    return model_facing_tool(
        run,
        name="run_python",
        description=describe(sandbox),
        args_schema=RunPythonInput,
        usage='run_python takes one argument, "code": a string of Python source.',
    )
