"""Render a :class:`~agents.display.view.RunView` as HTML (Jupyter) and as plain text.

HTML: thinking in a collapsible ``<details>`` block (open while the model is still thinking), tool
calls as compact cards (name, arguments, result), progress lines, answer text as Markdown (rendered
with markdown-it-py, which rich already depends on; raw HTML in model output is escaped, never
rendered, and LaTeX math spans are kept as written so the notebook's MathJax typesets them), and a
footer with steps, tokens and time. Everything from the model or a tool is escaped. Styles are
inline, so the output looks the same in JupyterLab, VS Code and a saved notebook.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from markdown_it import MarkdownIt

from agents.display.view import VALUE_END, VALUE_START, RunView, Segment, plain

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable("table").enable("strikethrough")
_VALUE = '<span class="qg-value" style="color:#00838f;font-weight:600;">'

# $$..$$, \[..\], \(..\), and $..$ with the pandoc rule (no blank inside the dollars, no digit after):
# "$2M ... $5M" stays text.
_MATH = re.compile(
    r"\$\$.+?\$\$|\\\[.+?\\\]|\\\(.+?\\\)|(?<![\\$\w])\$(?=\S)[^$\n]+?(?<=\S)\$(?![\d$])", re.DOTALL
)
_NO_TEX = "tex2jax_ignore mathjax_ignore"  # MathJax leaves these alone: "$2M ... $5M" is not math
_BOX = "border:1px solid #d0cce8;border-radius:6px;padding:4px 8px;margin:4px 0;"
_SUMMARY = "cursor:pointer;color:#555;"
_MONO = "font-family:var(--jp-code-font-family,monospace);font-size:0.85em;"


def markdown_html(text: str) -> str:
    """Markdown to HTML with raw HTML escaped and math spans left for MathJax as written."""
    spans: list[str] = []

    def hide(match: re.Match[str]) -> str:
        spans.append(match.group(0))
        return f"QGMATH{len(spans) - 1}QG"

    rendered = _MARKDOWN.render(_MATH.sub(hide, text))
    # a dollar sign outside math gets its own element, so MathJax cannot pair it with another one
    rendered = re.sub(r"(<[^>]*>)|\$", lambda m: m.group(1) or "<span>$</span>", rendered)
    rendered = rendered.replace(VALUE_START, _VALUE).replace(VALUE_END, "</span>")
    return re.sub(r"QGMATH(\d+)QG", lambda m: html.escape(spans[int(m.group(1))], quote=False), rendered)


def _args(args: dict[str, Any] | None) -> str:
    return json.dumps(args or {}, ensure_ascii=False)


def _card(segment: Segment) -> str:
    result = segment.text.strip() or "(no output)"
    failed = result.startswith("Error")
    colour = "#b3261e" if failed else "#1b5e20"
    pre = f"margin:2px 0 0 0;white-space:pre-wrap;max-height:14em;overflow:auto;color:{colour};{_MONO}"
    return (
        f'<div class="qg-tool {_NO_TEX}" style="{_BOX}background:#f7f6ff;">'
        f'<span style="{_MONO}"><b>{html.escape(segment.name or "tool")}</b>'
        f"({html.escape(_args(segment.args))})</span>"
        f'<pre style="{pre}">{html.escape(result)}</pre></div>'
    )


def _thinking(segment: Segment, *, live: bool) -> str:
    words = len(segment.text.split())
    label = "Thinking&hellip;" if live else f"Thinking ({words} words)"
    body = "white-space:pre-wrap;color:#6b6b6b;font-size:0.9em;margin:4px 0 0 0;"
    return (
        f'<details class="qg-thinking {_NO_TEX}"{" open" if live else ""} style="{_BOX}background:#fafafa;">'
        f'<summary style="cursor:pointer;color:#555;">{label}</summary>'
        f'<div style="{body}">{html.escape(segment.text.strip())}</div></details>'
    )


def _footer(view: RunView) -> str:
    parts: list[str] = []
    if view.summary is not None:
        usage = view.summary.usage or {}
        parts.append(f"{view.summary.steps} model call{'s' if view.summary.steps != 1 else ''}")
        parts.append(
            f"{len(view.summary.tool_calls)} tool call{'s' if len(view.summary.tool_calls) != 1 else ''}"
        )
        if usage.get("total_tokens"):
            parts.append(f"{usage['total_tokens']} tokens")
        if usage.get("reasoning_tokens"):
            parts.append(f"{usage['reasoning_tokens']} thinking tokens")
        if view.summary.stopped:
            parts.append(f"stopped: {view.summary.stopped}")
    if view.seconds is not None:
        parts.append(f"{view.seconds:.1f} s")
    return " &middot; ".join(html.escape(p) for p in parts)


def _div(kind: str, style: str, body: str) -> str:
    return f'<div class="{kind} {_NO_TEX}" style="{style}">{body}</div>'


def render_html(view: RunView) -> str:
    """The whole display as one HTML fragment."""
    out = ['<div class="qg-run" style="font-size:0.95em;line-height:1.4;">']
    if view.title:
        out.append(
            f'<div class="{_NO_TEX}" style="color:#555;font-size:0.85em;">{html.escape(view.title)}</div>'
        )
    live = not view.finished
    inline = bool(view.values) and any(s.kind == "text" for s in view.segments)
    for index, segment in enumerate(view.segments):
        last = index == len(view.segments) - 1
        if segment.kind == "thinking":
            out.append(_thinking(segment, live=live and last))
        elif segment.kind == "tool":
            out.append(_card(segment))
        elif segment.kind == "progress":
            out.append(_div("qg-progress", f"color:#7b1fa2;{_MONO}", html.escape(segment.text)))
        else:
            out.append(f'<div class="qg-answer">{markdown_html(segment.text)}</div>')
    if inline:  # a worked solution: the values the tools wrote into the text, as cards
        cards = "".join(_card(v) for v in view.values)
        out.append(
            f'<details class="qg-values {_NO_TEX}" style="{_BOX}"><summary style="{_SUMMARY}">'
            f"{len(view.values)} tool result(s) written into the answer</summary>{cards}</details>"
        )
    if live:
        out.append('<div style="color:#888;font-size:0.85em;">&#9679; running&hellip;</div>')
    if view.error:
        out.append(_div("qg-error", "color:#b3261e;", f"<b>error:</b> {html.escape(view.error)}"))
    footer = _footer(view) if view.finished else ""
    if footer:
        out.append(_div("qg-footer", "color:#888;font-size:0.8em;margin-top:4px;", footer))
    out.append("</div>")
    return "".join(out)


def render_text(view: RunView) -> str:
    """The display as plain text (``text/plain``: saved notebooks, consoles without HTML)."""
    lines: list[str] = [view.title] if view.title else []
    for segment in view.segments:
        if segment.kind == "thinking":
            lines.append("[thinking] " + segment.text.strip())
        elif segment.kind == "tool":
            lines.append(f"→ {segment.name}({_args(segment.args)}) = {segment.text.strip()}")
        else:
            lines.append(plain(segment.text).strip())
    if view.error:
        lines.append(f"error: {view.error}")
    footer = _footer(view) if view.finished else ""
    if footer:
        lines.append(html.unescape(footer).replace("\u00b7", "·"))
    return "\n".join(line for line in lines if line)
