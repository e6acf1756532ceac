"""Safe parsing of model-written math into a small, validated expression tree.

Parsing happens in three steps, each bounded before the next one runs, so hostile input fails in
milliseconds with a message the model can act on:

1. **Lexing and rewriting** (linear scan, no recursion): length, parenthesis depth and token count
   are checked; strings, attributes, subscripts, keywords and unknown characters are refused; what
   small models write is rewritten to Python syntax (see :func:`rewrite` for the exact rules).
2. **``ast.parse``** of the rewritten, ASCII-only text (Python's parser is never fed anything deep).
3. **Whitelist conversion** of the Python AST into :data:`Node` (depth and node count measured
   iteratively first). Number literals keep their exact value (``0.1`` is ``Fraction(1, 10)``).

The tree is evaluator-neutral: :mod:`tools.exact` evaluates it exactly; a symbolic evaluator can
build sympy objects from the same tree with a wider :class:`Grammar` (variables, more functions).
Nothing here calls ``eval`` or ``sympify`` on a string.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from tools.errors import ToolInputError, ToolLimitError
from tools.math_rewrite import ALLOWED, rewrite

__all__ = [
    "ARITHMETIC",
    "DEFAULT_LIMITS",
    "BinOp",
    "Call",
    "Grammar",
    "Limits",
    "Name",
    "Node",
    "Num",
    "Unary",
    "parse",
    "rewrite",
]


@dataclass(frozen=True)
class Limits:
    """Resource bounds for parsing and exact evaluation; every default is safe for untrusted input."""

    max_length: int = 2_000
    """Characters in the expression."""
    max_paren_depth: int = 50
    """Nesting of parentheses, checked on the raw text before Python's parser runs."""
    max_tokens: int = 1_000
    """Numbers, names and operators after rewriting."""
    max_depth: int = 100
    """Depth of the expression tree (a chain ``1+1+...`` of n terms is n deep)."""
    max_nodes: int = 500
    """Nodes of the expression tree."""
    max_result_digits: int = 10_000
    """Decimal digits of any exact intermediate or final result (numerator and denominator alike)."""
    max_factorial: int = 1_000
    """Largest n for ``factorial(n)`` and ``n!``."""
    max_comb_n: int = 1_000_000
    """Largest n for ``comb(n, k)`` and ``perm(n, k)`` (the result size is bounded separately)."""
    max_round_digits: int = 100
    """Largest ``abs(ndigits)`` for ``round(x, ndigits)``."""

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value < 1:
                raise ValueError(f"Limits.{name} must be positive, got {value}")
        if self.max_depth > 200:  # evaluators recurse a few frames per level
            raise ValueError(f"Limits.max_depth must be at most 200, got {self.max_depth}")


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Grammar:
    """The names an expression may use. Evaluators bring their own (a symbolic one adds variables)."""

    constants: frozenset[str]
    functions: Mapping[str, tuple[int, int | None]]
    """Function name -> (fewest, most arguments); ``None`` means no upper bound."""
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Other spellings small models use (``ln`` -> ``log``)."""
    allow_variables: bool = False
    """Accept any other identifier as a :class:`Name` (for symbolic math)."""
    implicit_multiplication: bool = False
    """Read ``2x``, ``3(x+1)`` and ``(x+1)(x-1)`` as products (for symbolic math)."""

    def resolve(self, name: str) -> str | None:
        """The canonical spelling of a known constant or function, trying lower case second."""
        for spelling in (name, name.lower()):
            candidate = self.aliases.get(spelling, spelling)
            if candidate in self.constants or candidate in self.functions:
                return candidate
        return None


ARITHMETIC = Grammar(
    constants=frozenset({"pi", "e"}),
    functions={
        **dict.fromkeys(
            ("sqrt", "exp", "log10", "log2", "sin", "cos", "tan", "asin", "acos", "atan"), (1, 1)
        ),
        **dict.fromkeys(("abs", "floor", "ceil", "factorial"), (1, 1)),
        "log": (1, 2),
        "round": (1, 2),
        "min": (1, None),
        "max": (1, None),
        "sum": (1, None),
        "mean": (1, None),
        "comb": (2, 2),
        "perm": (1, 2),
    },
    aliases={
        "ln": "log",
        "arcsin": "asin",
        "arccos": "acos",
        "arctan": "atan",
        "avg": "mean",
        "average": "mean",
    },
)
"""The calculator's grammar: what :mod:`tools.exact` can evaluate."""

# --- the tree -------------------------------------------------------------------------------------

BinaryOperator = Literal["+", "-", "*", "/", "//", "%", "**"]


@dataclass(frozen=True, slots=True)
class Num:
    """A number literal with its exact value (``2.5`` is ``Fraction(5, 2)``)."""

    value: int | Fraction


@dataclass(frozen=True, slots=True)
class Name:
    """A constant (``pi``) or, in grammars that allow them, a variable."""

    id: str


@dataclass(frozen=True, slots=True)
class Unary:
    """Unary plus or minus."""

    op: Literal["+", "-"]
    operand: Node


@dataclass(frozen=True, slots=True)
class BinOp:
    """A binary arithmetic operation."""

    op: BinaryOperator
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Call:
    """A call of a grammar function with positional arguments only."""

    func: str
    args: tuple[Node, ...]


Node = Num | Name | Unary | BinOp | Call


# --- steps 2 and 3: Python's parser, then the whitelist ---------------------------------------------

_BINARY: dict[type[ast.operator], BinaryOperator] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}
_UNARY: dict[type[ast.unaryop], Literal["+", "-"]] = {ast.UAdd: "+", ast.USub: "-"}
_REFUSED: dict[type[ast.AST], str] = {
    ast.Tuple: "a comma-separated list",
    ast.Attribute: "attribute access",
    ast.Subscript: "subscripting",
    ast.Lambda: "lambda",
    ast.Compare: "comparison",
    ast.BoolOp: "and/or",
    ast.IfExp: "if/else",
    ast.Starred: "a starred argument",
    ast.JoinedStr: "a string",
    ast.ListComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.NamedExpr: "assignment",
}


def parse(text: str, grammar: Grammar = ARITHMETIC, limits: Limits = DEFAULT_LIMITS) -> Node:
    """Parse model-written math into a validated :data:`Node` tree.

    See :func:`tools.math_rewrite.rewrite` for the accepted notations (``^``, ``15%``, ``2,480``…).

    Raises:
        ToolInputError: the text is not an expression of ``grammar``.
        ToolLimitError: the text exceeds ``limits`` (length, nesting, size).
    """
    source = rewrite(text, limits, implicit_multiplication=grammar.implicit_multiplication)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        raise ToolInputError(
            f"could not parse the expression (read as: {_excerpt(source)}): a number, operator or "
            "parenthesis is missing or misplaced"
        ) from None
    except (RecursionError, MemoryError):  # unreachable within the token limit; kept as a backstop
        raise ToolLimitError("the expression is too complex to parse; split it up") from None
    _measure(tree.body, limits)
    return _Converter(source, grammar, limits).convert(tree.body)


def _excerpt(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _measure(root: ast.expr, limits: Limits) -> None:
    """Bound the tree's depth and size without recursion, before anything recurses over it."""
    stack = [(root, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise ToolLimitError(
                f"the expression has more than {limits.max_nodes} parts; split it into smaller calculations"
            )
        if depth > limits.max_depth:
            raise ToolLimitError(
                f"the expression is nested more than {limits.max_depth} levels deep (a long chain of "
                "operators counts as nesting); split it into smaller calculations"
            )
        children = ast.iter_child_nodes(node)
        stack.extend((child, depth + 1) for child in children if isinstance(child, ast.expr))


class _Converter:
    """Whitelist conversion from Python's AST; anything not listed is refused."""

    def __init__(self, source: str, grammar: Grammar, limits: Limits) -> None:
        self.source = source
        self.grammar = grammar
        self.limits = limits

    def convert(self, node: ast.expr) -> Node:
        if isinstance(node, ast.Constant):
            return self._number(node)
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return Unary(_UNARY[type(node.op)], self.convert(node.operand))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return BinOp(_BINARY[type(node.op)], self.convert(node.left), self.convert(node.right))
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Tuple) and not node.elts:
            raise ToolInputError("empty parentheses () are not allowed: put an expression inside")
        what = _REFUSED.get(type(node), f"the construct {type(node).__name__}")
        raise ToolInputError(f"{what} is not allowed: {ALLOWED}")

    def _number(self, node: ast.Constant) -> Num:
        if type(node.value) not in (int, float) or node.end_col_offset is None:
            raise ToolInputError(f"only numbers are allowed as literals: {ALLOWED}")
        literal = self.source[node.col_offset : node.end_col_offset]
        try:
            value = Fraction(literal)
        except ValueError:  # Python's int<->str digit limit
            raise ToolLimitError(f"the number {_excerpt(literal, 30)} has too many digits") from None
        return Num(value.numerator if value.denominator == 1 else value)

    def _name(self, name: str) -> Name:
        resolved = self.grammar.resolve(name)
        if resolved in self.grammar.constants:
            return Name(resolved)
        if resolved is not None:
            raise ToolInputError(f"'{name}' is a function: call it with parentheses, like {resolved}(2)")
        if self.grammar.allow_variables:
            return Name(name)
        raise ToolInputError(f"unknown name '{name}': {self._vocabulary()}")

    def _call(self, node: ast.Call) -> Call:
        if not isinstance(node.func, ast.Name):
            raise ToolInputError(f"only named functions can be called: {self._vocabulary()}")
        func = self.grammar.resolve(node.func.id)
        if func is None and self.grammar.allow_variables:
            name = node.func.id
            raise ToolInputError(
                f"'{name}' is not a known function: to multiply, write {name}*(...); {self._vocabulary()}"
            )
        if func is None or func not in self.grammar.functions:
            raise ToolInputError(f"unknown function '{node.func.id}': {self._vocabulary()}")
        if node.keywords:
            raise ToolInputError(f"keyword arguments are not allowed: write {func}(x, y), not {func}(x=...)")
        fewest, most = self.grammar.functions[func]
        count = len(node.args)
        if count < fewest or (most is not None and count > most):
            expected = f"{fewest}" if fewest == most else f"{fewest} to {most}" if most else f"{fewest}+"
            hint = (
                "; inside a function call commas separate arguments, so write 2480, not 2,480"
                if most is not None and count > most
                else ""
            )
            raise ToolInputError(f"{func}() takes {expected} argument(s), got {count}{hint}")
        return Call(func, tuple(self.convert(arg) for arg in node.args))

    def _vocabulary(self) -> str:
        constants = ", ".join(sorted(self.grammar.constants))
        functions = ", ".join(sorted(self.grammar.functions))
        return f"the known constants are {constants} and the functions are {functions}"
