"""BFCL's own checker and Qwen harness code, loaded from the installed ``bfcl-eval`` (``--no-deps``).

Its modules cannot be imported as they are (the model table they import pulls in every provider
SDK), so the checker is imported with that one table stubbed (it only tells which models spell
``.`` as ``_``; ours keep dots), and the Qwen handler's prompt and decoder methods are compiled
from its source file on their own. Nothing of it is copied into qwengraph: the tests compare
our code with theirs, case by case.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def package_dir() -> Path:
    """The installed ``bfcl_eval`` folder (``make setup`` installs it with ``--no-deps``)."""
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "bfcl-eval is not installed: run `make setup` (pip install --no-deps bfcl-eval==2026.3.23)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass
class _Config:
    underscore_to_dot: bool = False


class _Models(dict[str, _Config]):
    def __missing__(self, key: str) -> _Config:
        return _Config()


def ast_checker() -> types.ModuleType:
    """BFCL's ``ast_checker`` module, its model table stubbed."""
    package_dir()
    name = "bfcl_eval.constants.model_config"
    stub = types.ModuleType(name)
    stub.MODEL_CONFIG_MAPPING = _Models()  # type: ignore[attr-defined]
    saved = sys.modules.get(name)
    sys.modules[name] = stub
    try:
        return importlib.import_module("bfcl_eval.eval_checker.ast_eval.ast_checker")
    finally:
        if saved is not None:
            sys.modules[name] = saved


def qwen_fc_handler() -> Any:
    """An object with BFCL's ``QwenFCHandler`` prompt and decoder methods, compiled from its source."""
    source = (package_dir() / "model_handler" / "local_inference" / "qwen_fc.py").read_text()
    tree = ast.parse(source)
    handler = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "QwenFCHandler")
    keep = {"_format_prompt", "decode_ast", "_extract_tool_calls"}
    methods = []
    for node in handler.body:
        if isinstance(node, ast.FunctionDef) and node.name in keep:
            node.decorator_list = [d for d in node.decorator_list if getattr(d, "id", "") == "staticmethod"]
            methods.append(node)
    assert {m.name for m in methods} == keep, "BFCL's QwenFCHandler changed shape"
    module = ast.Module(body=[ast.ClassDef("Reference", [], [], methods, [])], type_ignores=[])
    namespace: dict[str, Any] = {"json": json, "re": re, "Any": Any}
    exec(compile(ast.fix_missing_locations(module), "qwen_fc.py", "exec"), namespace)
    return namespace["Reference"]()
