"""Options ``run``, ``chat`` and ``resume`` share: the model and its sampling, thinking, tools.

Only typer and the error tree are imported here, so a command's ``--help`` stays fast. Each option
maps to one Python API knob: ``--think`` and ``--thinking-budget`` to ``ChatQwen(think=...,
thinking_budget=...)``, ``--soft-switch`` to ``think_switch="soft_switch"``, ``--temperature`` /
``--seed`` / ``--max-tokens`` to the same ``ChatQwen`` fields, ``--sandbox`` to
``make_sandbox(backend)``, ``--db`` to the search tool's index, ``--user`` to long-term memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from graphs.errors import ConfigError

MEMORY_HELP = "Thread storage: sqlite:///PATH, postgres://..., memory:// (else QWENGRAPH_MEMORY)."
THINK_MODES = ("on", "off", "auto")
SANDBOXES = ("auto", "bwrap", "gvisor")

ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model", "-m", help="Model URI (ollama:…, openai:…, local:…, transformers:…).", metavar="URI"
    ),
]
BaseUrlOpt = Annotated[
    str | None, typer.Option("--base-url", help="Server URL (else QWENGRAPH_BASE_URL).", metavar="URL")
]
MemoryOpt = Annotated[str | None, typer.Option("--memory", help=MEMORY_HELP, metavar="URI")]
TimeoutOpt = Annotated[
    float, typer.Option(min=0.01, help="Seconds to wait for the server per request.", metavar="SECONDS")
]
ApproveOpt = Annotated[
    str,
    typer.Option(
        "--approve", help="Comma-separated tools that need your approval per call.", metavar="TOOLS"
    ),
]
ThinkOpt = Annotated[
    str | None,
    typer.Option(
        "--think",
        help="Thinking: on, off, or auto (the model decides per request by difficulty). Default: on.",
        metavar="on|off|auto",
    ),
]
NoThinkOpt = Annotated[bool, typer.Option("--no-think", help="Same as --think off.")]
BudgetOpt = Annotated[
    int | None,
    typer.Option(
        "--thinking-budget",
        min=1,
        help="Cap on reasoning tokens per model call (then it must answer).",
        metavar="N",
    ),
]
SoftSwitchOpt = Annotated[
    bool,
    typer.Option(
        "--soft-switch",
        help="Switch thinking with Qwen3's /think and /no_think in the prompt, not the template's flag.",
    ),
]
TemperatureOpt = Annotated[
    float | None,
    typer.Option(
        "--temperature",
        min=0.0,
        max=2.0,
        help="Sampling temperature (default: Qwen's per mode).",
        metavar="T",
    ),
]
SeedOpt = Annotated[
    int | None, typer.Option("--seed", help="Sampling seed, for repeatable answers.", metavar="N")
]
MaxTokensOpt = Annotated[
    int | None, typer.Option("--max-tokens", min=1, help="Most tokens per model reply.", metavar="N")
]
SandboxOpt = Annotated[
    str,
    typer.Option(
        "--sandbox", help="Code sandbox for run_python: auto, bwrap or gvisor (runsc).", metavar="NAME"
    ),
]
DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="The document index file (default: $QWENGRAPH_HOME/retrieval.db).",
        dir_okay=False,
        metavar="FILE",
    ),
]
IndexOption = Annotated[
    str | None,
    typer.Option(
        "--index",
        help="A named index: $QWENGRAPH_HOME/indexes/NAME.db ('default': retrieval.db).",
        metavar="NAME",
    ),
]
UserOpt = Annotated[
    str | None,
    typer.Option("--user", help="Long-term memory for this user: remember/recall tools.", metavar="NAME"),
]


def think_policy(think: str | None, no_think: bool) -> bool | Literal["auto"] | None:
    """``--think`` / ``--no-think`` as the API's ``think``: True, False, ``"auto"`` or None (unset)."""
    if no_think:
        if think not in (None, "off"):
            raise ConfigError("--no-think contradicts --think " + str(think))
        return False
    if think is None:
        return None
    if think not in THINK_MODES:
        raise ConfigError(f"--think must be on, off or auto, not {think!r}")
    return "auto" if think == "auto" else think == "on"


def check_sandbox(name: str) -> str:
    """``--sandbox``, checked."""
    if name not in SANDBOXES:
        raise ConfigError(f"--sandbox must be one of {', '.join(SANDBOXES)}, not {name!r}")
    return name


@dataclass(frozen=True)
class Sampling:
    """The ``ChatQwen`` fields set by flags (``None``: the model's default)."""

    temperature: float | None = None
    seed: int | None = None
    max_tokens: int | None = None
    thinking_budget: int | None = None
    soft_switch: bool = False

    def fields(self) -> dict[str, Any]:
        """Keyword arguments for ``ChatQwen`` (only what was set)."""
        found: dict[str, Any] = {
            key: value
            for key, value in (
                ("temperature", self.temperature),
                ("seed", self.seed),
                ("max_tokens", self.max_tokens),
                ("thinking_budget", self.thinking_budget),
            )
            if value is not None
        }
        if self.soft_switch:
            found["think_switch"] = "soft_switch"
        return found
