"""Qwen generations as profiles: one small explicit object per generation says what differs.

Qwen2.5, Qwen3, the Qwen3-2507 Instruct and Thinking models, Qwen3-Coder, Qwen3.5, Qwen3.6+, QwQ
and the DeepSeek-R1 distills of Qwen speak the same ChatML but differ in exactly what a Qwen model
layer must get right: the chat template, the tool-call form they write (JSON in ``<tool_call>``, or
the ``<function=…><parameter=…>`` XML of Qwen3-Coder and Qwen3.5+), whether and how thinking is
switched (the ``enable_thinking`` template kwarg, the ``/think`` ``/no_think`` soft switch that only
Qwen3 has, always on, never), the model card's sampling per mode, which past thinking the template
renders back, ``preserve_thinking`` (Qwen3.6+), and whether the model sees images.

Everything generation-specific is data here; transports and the chat model read these fields and
never test model names. :data:`PROFILES` is a plain tuple built below (nothing registers itself);
:func:`get_profile` looks one up by name, and :mod:`graphs.models.profile_detect` picks one from a
model name, a server's template or a GGUF file's metadata.

Sampling values are the model cards' (Hugging Face ``Qwen/<model>`` README, "Best Practices"):
``min_p=0`` is every server's default and is left out; Qwen2.5 and Qwen3-Coder's
``repetition_penalty=1.05`` is left to the server (its name differs per server and the in-process
engine's recorded runs predate it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from graphs.errors import ConfigError

TemplateFamily = Literal[
    "qwen2.5", "qwen3", "qwen3-instruct-2507", "qwen3-thinking-2507", "qwen3.5", "qwen3-coder", "qwq",
    "deepseek-r1",
]  # fmt: skip
ThinkingKind = Literal["hybrid", "always", "never"]
ToolForm = Literal["json", "xml"]
PastReasoning = Literal["current_turn", "none"]


@dataclass(frozen=True)
class Sampling:
    """Sampling settings of one mode, as the model card recommends them."""

    temperature: float
    top_p: float
    top_k: int | None = None
    presence_penalty: float | None = None

    def as_dict(self) -> dict[str, float | int]:
        """The settings that are set, under the OpenAI-style names every transport maps."""
        values = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "presence_penalty": self.presence_penalty,
        }
        return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class Profile:
    """What one Qwen generation needs from the model layer.

    Attributes:
        name: the short name used by ``profile=`` and ``--profile``.
        title: a human name for display.
        covers: the models this profile is for.
        template: the chat template family (the local transport renders the ones it verified).
        tool_calls: the tool-call forms the model writes in text, its native one first.
        thinking: ``hybrid`` (switchable), ``always`` (thinking-only) or ``never``.
        template_switch: thinking is switched by the ``enable_thinking`` template kwarg.
        soft_switch: the model honours ``/think`` and ``/no_think`` in a user message (Qwen3 only).
        sampling_thinking: card sampling with thinking on (``None`` for models that never think).
        sampling_plain: card sampling without thinking (``None`` for thinking-only models).
        past_reasoning: which earlier thinking the template renders back: ``current_turn`` (the
            assistant messages after the last user message) or ``none`` (the template drops it).
        preserve_thinking: the template takes ``preserve_thinking`` (render all past thinking).
        vision: the model can see images.
        opens_thinking: with thinking on, the generation prompt already holds ``<think>``, so a
            server that does not split reasoning sends text that starts inside thinking.
        notes: facts worth printing with the profile (sources, quirks).
    """

    name: str
    title: str
    covers: str
    template: TemplateFamily
    tool_calls: tuple[ToolForm, ...]
    thinking: ThinkingKind
    template_switch: bool
    soft_switch: bool
    sampling_thinking: Sampling | None
    sampling_plain: Sampling | None
    past_reasoning: PastReasoning
    preserve_thinking: bool = False
    vision: bool = False
    opens_thinking: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def can_think(self) -> bool:
        """Whether the model ever thinks."""
        return self.thinking != "never"

    def sampling(self, think: bool) -> dict[str, float | int]:
        """Card sampling for the mode the request runs in (the other mode's when it has only one)."""
        chosen = self.sampling_thinking if think else self.sampling_plain
        chosen = chosen or self.sampling_plain or self.sampling_thinking
        return chosen.as_dict() if chosen is not None else {}

    def summary(self) -> dict[str, str]:
        """The profile as printable lines, field by field."""

        def fmt(s: Sampling | None) -> str:
            return ", ".join(f"{k}={v}" for k, v in s.as_dict().items()) if s else "-"

        switch = [label for on, label in ((self.template_switch, "enable_thinking"), (self.soft_switch,
                  "/think /no_think")) if on]  # fmt: skip
        return {
            "profile": f"{self.name} ({self.title})",
            "covers": self.covers,
            "chat template": self.template,
            "tool calls": " or ".join(self.tool_calls) + f" (written back as {self.tool_calls[0]})",
            "thinking": {"hybrid": "switchable", "always": "always on (thinking-only)", "never": "none"}[
                self.thinking
            ],
            "thinking switch": ", ".join(switch) or "none",
            "sampling, thinking": fmt(self.sampling_thinking),
            "sampling, no thinking": fmt(self.sampling_plain),
            "past thinking sent back": {"current_turn": "this turn's (tool-call chain)", "none": "none"}[
                self.past_reasoning
            ]
            + (" or all with preserve_thinking" if self.preserve_thinking else ""),
            "images": "yes" if self.vision else "no",
        }


_THINK_Q3 = Sampling(0.6, 0.95, 20)
_PLAIN_Q3 = Sampling(0.7, 0.8, 20)

QWEN25 = Profile(
    name="qwen2.5",
    title="Qwen2.5",
    covers="Qwen2.5-Instruct, Qwen2.5-Coder-Instruct, Qwen2.5-Math-Instruct",
    template="qwen2.5",
    tool_calls=("json",),
    thinking="never",
    template_switch=False,
    soft_switch=False,
    sampling_thinking=None,
    sampling_plain=_PLAIN_Q3,
    past_reasoning="none",
    notes=("the template adds Qwen's default system prompt when none is given",),
)
QWEN3 = Profile(
    name="qwen3",
    title="Qwen3 (hybrid thinking)",
    covers="Qwen3-0.6B … Qwen3-235B-A22B of April 2025",
    template="qwen3",
    tool_calls=("json",),
    thinking="hybrid",
    template_switch=True,
    soft_switch=True,
    sampling_thinking=_THINK_Q3,
    sampling_plain=_PLAIN_Q3,
    past_reasoning="current_turn",
)
QWEN3_INSTRUCT_2507 = Profile(
    name="qwen3-instruct-2507",
    title="Qwen3 Instruct 2507",
    covers="Qwen3-4B/30B-A3B/235B-A22B-Instruct-2507 (non-thinking only)",
    template="qwen3-instruct-2507",
    tool_calls=("json",),
    thinking="never",
    template_switch=False,
    soft_switch=False,
    sampling_thinking=None,
    sampling_plain=_PLAIN_Q3,
    past_reasoning="none",
)
QWEN3_THINKING_2507 = Profile(
    name="qwen3-thinking-2507",
    title="Qwen3 Thinking 2507",
    covers="Qwen3-4B/30B-A3B/235B-A22B-Thinking-2507 (thinking only); Ollama's qwen3:4b and qwen3:30b",
    template="qwen3-thinking-2507",
    tool_calls=("json",),
    thinking="always",
    template_switch=False,
    soft_switch=False,
    sampling_thinking=_THINK_Q3,
    sampling_plain=None,
    past_reasoning="current_turn",
    opens_thinking=True,
    notes=("think=False cannot switch it off (ollama/ollama#12438): answers are kept, marked",),
)
QWEN3_CODER = Profile(
    name="qwen3-coder",
    title="Qwen3-Coder",
    covers="Qwen3-Coder-30B-A3B-Instruct, Qwen3-Coder-480B-A35B-Instruct, Qwen3-Coder-Next",
    template="qwen3-coder",
    tool_calls=("xml", "json"),
    thinking="never",
    template_switch=False,
    soft_switch=False,
    sampling_thinking=None,
    sampling_plain=_PLAIN_Q3,
    past_reasoning="none",
)
QWEN35 = Profile(
    name="qwen3.5",
    title="Qwen3.5",
    covers="Qwen3.5-0.8B … Qwen3.5-397B-A17B (vision-language, hybrid thinking)",
    template="qwen3.5",
    tool_calls=("xml", "json"),
    thinking="hybrid",
    template_switch=True,
    soft_switch=False,
    sampling_thinking=Sampling(1.0, 0.95, 20, presence_penalty=1.5),
    sampling_plain=Sampling(0.7, 0.8, 20, presence_penalty=1.5),
    past_reasoning="current_turn",
    vision=True,
    opens_thinking=True,
    notes=(
        "no /think /no_think soft switch; the 0.8B-9B models do not think unless enable_thinking is sent",
    ),
)
QWEN36 = Profile(
    name="qwen3.6",
    title="Qwen3.6 and later",
    covers="Qwen3.6-27B, Qwen3.6-35B-A3B and later 3.x releases",
    template="qwen3.5",
    tool_calls=("xml", "json"),
    thinking="hybrid",
    template_switch=True,
    soft_switch=False,
    sampling_thinking=Sampling(1.0, 0.95, 20),
    sampling_plain=Sampling(0.7, 0.8, 20, presence_penalty=1.5),
    past_reasoning="current_turn",
    preserve_thinking=True,
    vision=True,
    opens_thinking=True,
    notes=("preserve_thinking=True renders all past thinking (the card recommends it for agents)",),
)
QWQ = Profile(
    name="qwq",
    title="QwQ",
    covers="QwQ-32B (thinking only)",
    template="qwq",
    tool_calls=("json",),
    thinking="always",
    template_switch=False,
    soft_switch=False,
    sampling_thinking=Sampling(0.6, 0.95, 40),
    sampling_plain=None,
    past_reasoning="none",
    opens_thinking=True,
    notes=("the card allows top_k 20-40",),
)
R1_DISTILL = Profile(
    name="r1-distill",
    title="DeepSeek-R1-Distill-Qwen",
    covers="DeepSeek-R1-Distill-Qwen-1.5B/7B/14B/32B (thinking only, no tool training)",
    template="deepseek-r1",
    tool_calls=("json",),
    thinking="always",
    template_switch=False,
    soft_switch=False,
    sampling_thinking=Sampling(0.6, 0.95),
    sampling_plain=None,
    past_reasoning="none",
    opens_thinking=True,
    notes=("DeepSeek's template, not ChatML; no system prompt recommended",),
)

PROFILES: tuple[Profile, ...] = (
    QWEN25, QWEN3, QWEN3_INSTRUCT_2507, QWEN3_THINKING_2507, QWEN3_CODER, QWEN35, QWEN36, QWQ, R1_DISTILL,
)  # fmt: skip
"""Every profile qwengraph ships, in generation order."""


def get_profile(name: str) -> Profile:
    """The profile called ``name`` (case-insensitive; ``qwen2.5-coder``-style aliases accepted).

    Raises:
        ConfigError: unknown name; the message lists the known ones.
    """
    wanted = name.strip().lower()
    for profile in PROFILES:
        if wanted in (profile.name, *_ALIASES.get(profile.name, ())):
            return profile
    known = ", ".join(p.name for p in PROFILES)
    raise ConfigError(f"unknown profile {name!r}: choose from {known}")


_ALIASES: dict[str, tuple[str, ...]] = {
    "qwen2.5": ("qwen2.5-coder", "qwen2.5-math", "qwen2"),
    "qwen3": ("qwen3-hybrid",),
    "qwen3-instruct-2507": ("qwen3-2507-instruct",),
    "qwen3-thinking-2507": ("qwen3-2507-thinking",),
    "qwen3.6": ("qwen3.6+",),
    "r1-distill": ("deepseek-r1-distill-qwen", "r1-distill-qwen"),
}
