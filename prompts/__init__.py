"""Prompt templates as files, rendered with Jinja2 and ``StrictUndefined``.

Templates live next to this module as ``<name>.md``. A missing variable is an error, never an
empty string, so a typo in a template cannot silently produce a wrong prompt.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2

__all__ = ["PromptError", "available", "render"]


class PromptError(Exception):
    """A template is missing or could not be rendered (the message names the template)."""


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("prompts", "."),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,  # noqa: S701 - prompts are plain text for a model, not HTML
    )


def available() -> list[str]:
    """Names of the bundled templates."""
    return sorted(p.name[:-3] for p in resources.files("prompts").iterdir() if p.name.endswith(".md"))


def render(name: str, **variables: Any) -> str:
    """Render template ``name`` (without ``.md``) with ``variables``; raise :class:`PromptError`."""
    try:
        return _environment().get_template(f"{name}.md").render(**variables).strip()
    except jinja2.TemplateNotFound:
        raise PromptError(f"no prompt template {name!r}; available: {', '.join(available())}") from None
    except jinja2.UndefinedError as err:
        raise PromptError(f"prompt template {name!r}: {err.message}") from None
    except jinja2.TemplateSyntaxError as err:
        raise PromptError(f"prompt template {name!r} line {err.lineno}: {err.message}") from None
