"""Canned queries over the run traces (:mod:`graphs.memory.trace_store`), for ``qwengraph trace browse``.

Each query is plain SQLite over the ``runs``, ``model_calls`` and ``tool_calls`` tables, so the same
text works in ``sqlite3 traces.db``, in Datasette (where they appear as named pages) and in a
notebook. Durations are milliseconds; tokens per second are completion tokens over model latency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CannedQuery:
    """A named query with a title and a one-line description."""

    name: str
    title: str
    description: str
    sql: str


CANNED_QUERIES = (
    CannedQuery(
        "slowest_calls",
        "Slowest calls",
        "Model and tool calls by duration, slowest first.",
        """
select 'model' as kind, coalesce(m.model, r.model) as what, m.latency_ms as duration_ms,
       m.prompt_tokens, m.completion_tokens, m.tokens_per_s, m.finish_reason,
       m.error, m.run_id, m.started_at
  from model_calls m join runs r on r.run_id = m.run_id
union all
select 'tool', t.name, t.duration_ms, null, null, null, null, t.error, t.run_id, t.started_at
  from tool_calls t
order by duration_ms desc
limit 100
""".strip(),
    ),
    CannedQuery(
        "tokens_per_second_by_model",
        "Tokens per second by model",
        "Completion tokens over model latency, per model (calls that reported tokens).",
        """
select coalesce(m.model, r.model) as model, count(*) as calls,
       sum(m.completion_tokens) as completion_tokens,
       round(sum(m.completion_tokens) / (sum(m.latency_ms) / 1000.0), 2) as tokens_per_s,
       round(avg(m.latency_ms), 1) as mean_latency_ms
  from model_calls m join runs r on r.run_id = m.run_id
 where m.completion_tokens > 0 and m.latency_ms > 0
 group by 1
 order by tokens_per_s desc
""".strip(),
    ),
    CannedQuery(
        "tool_failures",
        "Tool failures",
        "Tool calls that failed (an exception or an Error: result), newest first.",
        """
select t.started_at, t.name, t.error, t.error_message, t.duration_ms, t.args_chars, t.run_id
  from tool_calls t
 where t.outcome != 'ok'
 order by t.started_at desc
 limit 200
""".strip(),
    ),
    CannedQuery(
        "thinking_tokens_per_run",
        "Thinking tokens per run",
        "Reasoning tokens (and characters) each run spent, with its completion tokens, newest first.",
        """
select r.run_id, r.started_at, r.model, r.outcome, count(m.call_id) as model_calls,
       coalesce(sum(m.thinking_tokens), 0) as thinking_tokens,
       coalesce(sum(m.thinking_chars), 0) as thinking_chars,
       coalesce(sum(m.completion_tokens), 0) as completion_tokens
  from runs r left join model_calls m on m.run_id = r.run_id
 group by r.run_id
 order by r.started_at desc
 limit 200
""".strip(),
    ),
)


def datasette_metadata(database: str) -> dict[str, Any]:
    """Datasette metadata for a traces database called ``database``: title, table notes and the
    canned queries above."""
    return {
        "title": "qwengraph traces",
        "description": "Every model call and tool call of your runs (read-only).",
        "databases": {
            database: {
                "tables": {
                    "runs": {"sort_desc": "started_at", "description": "One row per run."},
                    "model_calls": {"sort_desc": "started_at", "description": "One row per model call."},
                    "tool_calls": {"sort_desc": "started_at", "description": "One row per tool call."},
                },
                "queries": {
                    q.name: {"title": q.title, "description": q.description, "sql": q.sql}
                    for q in CANNED_QUERIES
                },
            }
        },
    }
