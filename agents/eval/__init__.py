"""``qwengraph eval``: tool calling measured on BFCL and on your own task sets.

- :mod:`agents.eval.bfcl_data` fetches the pinned ``bfcl-eval`` wheel (SHA-256 checked) and reads
  its test cases and possible answers straight from the zip;
- :mod:`agents.eval.bfcl_checker` scores decoded calls by BFCL's AST-checker rules;
- :mod:`agents.eval.bfcl_harness` is the leaderboard harness's reading (BFCL's own Qwen prompt and
  ``<tool_call>`` regex on the local engine; the server-parsed calls elsewhere);
- :mod:`agents.eval.bfcl_run` runs cases concurrently, two readings each;
- :mod:`agents.eval.tasks` runs an agent on a JSONL task set with declarative checks;
- :mod:`agents.eval.store` keeps every case in ``$QWENGRAPH_HOME/evals.db``;
- :mod:`agents.eval.report` turns stored cases into per-category tables and comparisons;
- :mod:`agents.eval.cli` is the ``qwengraph eval`` command group.
"""
