"""What a profile changes in a request: the thinking switch, sampling, past reasoning, images.

``ChatQwen.build_request`` asks :func:`plan_thinking` and :func:`reasoning_scope` and checks
:func:`check_request`, so the rules that differ by generation are read from the
:class:`~graphs.models.profiles.Profile` in one place, never tested by model name in a transport.

Thinking, by profile:

- **hybrid** (Qwen3, Qwen3.5, Qwen3.6): the switch is always explicit. ``think=None`` means the
  model's default, thinking on, and is sent as such: a vLLM request without ``enable_thinking``
  had the whole answer put in ``reasoning`` (vllm-project/vllm#53284), and the small Qwen3.5 models
  do not think unless asked.
- **always** (Qwen3 Thinking-2507, QwQ, R1 distills): ``think=False`` cannot be honoured, so the
  request runs in thinking mode (its sampling, thinking parsed as thinking) and the answer is
  marked ``response_metadata["think_ignored"] = True``.
- **never** (Qwen2.5, Qwen3 Instruct-2507, Qwen3-Coder): thinking is off and sent as off; a
  ``think=True`` request gets plain sampling (there is no thinking to sample for).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.language_models.model_profile import ModelProfile

from graphs.errors import ConfigError
from graphs.models.profile_detect import Detection, detect, from_name, from_ollama_show
from graphs.models.profiles import Profile
from graphs.models.uri import parse_model_uri

ReasoningScope = Literal["current_turn", "all", "none"]


@dataclass(frozen=True)
class ThinkPlan:
    """The thinking of one request: what to send, which sampling, and whether ``think`` was overridden."""

    think: bool
    forced: bool = False  # thinking-only model, think=False asked: it thinks anyway (marked)


def plan_thinking(profile: Profile, asked: bool | None) -> ThinkPlan:
    """Resolve the caller's ``think`` (``True``/``False``/``None``) against the profile."""
    if profile.thinking == "never":
        return ThinkPlan(think=False)
    if profile.thinking == "always":
        return ThinkPlan(think=True, forced=asked is False)
    return ThinkPlan(think=asked is not False)


def reasoning_scope(profile: Profile, preserve_thinking: bool) -> ReasoningScope:
    """Which past thinking goes back to the model: none, this turn's, or (preserve_thinking) all."""
    if profile.past_reasoning == "none":
        return "none"
    return "all" if preserve_thinking else "current_turn"


def check_request(
    profile: Profile,
    messages: Sequence[dict[str, Any]],
    *,
    model: str,
    think_switch: str,
    preserve_thinking: bool,
) -> None:
    """Refuse what the profile cannot do, with a message that says what to change.

    Raises:
        ConfigError: images for a model that cannot see them; the ``/think`` soft switch for a
            generation without one; ``preserve_thinking`` for a template that ignores it.
    """
    if not profile.vision and any(m.get("images") for m in messages):
        raise ConfigError(
            f"{model} cannot see images (profile {profile.name}: {profile.title}); use a vision model "
            "such as Qwen3.5 or Qwen3.6, or name its profile with profile=/--profile"
        )
    if think_switch == "soft_switch" and not profile.soft_switch:
        raise ConfigError(
            f"{profile.title} has no /think /no_think soft switch (profile {profile.name}); "
            "use think_switch='template_kwargs'"
        )
    if preserve_thinking and not profile.preserve_thinking:
        raise ConfigError(
            f"preserve_thinking needs a Qwen3.6+ model; {model} is {profile.title} (profile {profile.name})"
        )


def detect_for(uri: str, explicit: str | Profile | None, transport: object) -> Detection:
    """The profile of a chat model: named, else the transport's own (a local GGUF's metadata, or
    Ollama's ``/api/show`` when the name says nothing), else the name, else the default."""
    if explicit is not None:
        return detect(uri, explicit=explicit)
    own = getattr(transport, "detection", None)
    if isinstance(own, Detection):
        return own
    parsed = parse_model_uri(uri)
    if parsed.kind == "ollama" and from_name(parsed.name) is None:
        show = getattr(transport, "show", None)
        body = show(parsed.name) if callable(show) else None
        if isinstance(body, dict):
            found = from_ollama_show(body, model=parsed.name)
            if found is not None:
                return found
    return detect(uri)


def qwen_profile_argument(data: Any) -> Any:
    """Let ``ChatQwen(profile="qwen3.5")`` name the Qwen profile.

    LangChain's ``BaseChatModel.profile`` is a capability dictionary (``ModelProfile``); a profile
    *name* or :class:`Profile` given as ``profile=`` is moved to ``qwen_profile``, and ``profile``
    is then filled from it (:func:`langchain_profile`).
    """
    if isinstance(data, dict) and isinstance(data.get("profile"), str | Profile):
        data = dict(data)
        data["qwen_profile"] = data.pop("profile")
    return data


def langchain_profile(uri: str, explicit: str | Profile | None) -> ModelProfile | None:
    """LangChain's capability profile for the model, from its Qwen profile when the name or the
    user says which (no file or network access: this runs when the model is constructed)."""
    try:
        if explicit is not None:
            profile = detect(uri, explicit=explicit).profile
        else:
            found = from_name(parse_model_uri(uri).name)
            if found is None:
                return None
            profile = found.profile
    except ConfigError:
        return None
    return ModelProfile(
        name=profile.title,
        text_inputs=True,
        image_inputs=profile.vision,
        image_url_inputs=profile.vision,
        reasoning_output=profile.can_think,
        tool_calling=True,
    )
