"""Render expression trees as R text, as Python text, and list the data columns they use.

:func:`deparse` prints an expression the way R's ``deparse`` does, which is how R names model
terms and coefficients: spaces around ``+ - * == & |`` and ``%in%``, none around ``^ : / %% $``,
``f(a, b)`` for calls, ``name = value`` for named arguments, non-syntactic names in backquotes and
numbers in R's 15-significant-digit format (``1e-3`` prints as ``0.001``, ``100000`` as
``1e+05``).

:func:`to_python` writes the same expression for evaluation with formulaic / numpy: ``^``
becomes ``**``, common math functions map to numpy, ``factor(x)`` to ``C(x)``, ``TRUE`` to
``True``, and names that are not plain Python identifiers are backquoted as formulaic expects.
Parentheses are added where Python's operator precedence differs from R's (``%%`` binds tighter
than ``*`` in R but not in Python).

:func:`variables` lists the data columns an expression uses.
"""

from __future__ import annotations

import keyword
import math
import re

from multilevel.formula.ast import (
    KEYWORDS,
    Arg,
    Binary,
    Call,
    Constant,
    Name,
    Node,
    Number,
    Paren,
    String,
    Unary,
)

# Binary operators R's deparse prints without surrounding spaces (PP_BINARY2 and '$').
_TIGHT = frozenset({"^", ":", "/", "%%", "%/%", "$"})

_R_RESERVED = KEYWORDS | {
    "TRUE",
    "FALSE",
    "NULL",
    "NA",
    "Inf",
    "NaN",
    "NA_integer_",
    "NA_real_",
    "NA_character_",
    "NA_complex_",
}
_DOTS = re.compile(r"^(\.\.\.|\.\.[0-9]+)$")

# ---- R text ---------------------------------------------------------------------------------


def is_syntactic(name: str) -> bool:
    """True if ``name`` is a syntactic R name, one R prints without backquotes."""
    if not name or name in _R_RESERVED or _DOTS.match(name):
        return False
    first = name[0]
    if not (first.isalpha() or first == "."):
        return False
    if first == "." and len(name) > 1 and name[1].isdigit():
        return False
    return all(ch.isalnum() or ch in "._" for ch in name)


def r_name(name: str) -> str:
    """The name as R prints it: backquoted unless syntactic."""
    if is_syntactic(name):
        return name
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def r_number(literal: str) -> str:
    """Format a numeric literal as R's deparse does (15 significant digits, R's choice of
    fixed or scientific notation; integer literals keep their ``L``)."""
    value = Number(literal, 0).value
    if literal.endswith("L") and value.is_integer() and abs(value) < 2**31:
        return f"{int(value)}L"
    if math.isinf(value):
        return "Inf"
    if value == 0:
        return "0"
    mantissa, exp_text = f"{value:.14e}".split("e")
    exponent = int(exp_text)
    digits = mantissa.replace(".", "").rstrip("0") or "0"
    nsig = len(digits)
    sci_width = nsig + (1 if nsig > 1 else 0) + 2 + max(2, len(str(abs(exponent))))
    if exponent >= 0:
        left, right = exponent + 1, max(0, nsig - exponent - 1)
    else:
        left, right = 1, nsig - exponent - 1
    fixed_width = left + (right + 1 if right > 0 else 0)
    if fixed_width <= sci_width:
        return f"{value:.{right}f}"
    sign = "-" if exponent < 0 else "+"
    frac = "." + digits[1:] if nsig > 1 else ""
    return f"{digits[0]}{frac}e{sign}{abs(exponent):02d}"


def _quote_string(value: str) -> str:
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("\r", "\\r")
    )
    return f'"{escaped}"'


def deparse(node: Node) -> str:
    """Print ``node`` as R's ``deparse`` would.

    Examples
    --------
    >>> from multilevel.formula.parse import parse_expression
    >>> deparse(parse_expression("I(x ^2) + poly(x,2)"))
    'I(x^2) + poly(x, 2)'
    """
    if isinstance(node, Name):
        return r_name(node.name)
    if isinstance(node, Constant):
        return node.name
    if isinstance(node, Number):
        return r_number(node.literal)
    if isinstance(node, String):
        return _quote_string(node.value)
    if isinstance(node, Call):
        args = ", ".join(_deparse_arg(arg) for arg in node.args)
        return f"{r_name(node.func)}({args})"
    if isinstance(node, Unary):
        return node.op + deparse(node.operand)
    if isinstance(node, Binary):
        sep = node.op if node.op in _TIGHT else f" {node.op} "
        return deparse(node.left) + sep + deparse(node.right)
    return f"({deparse(node.inner)})"


def _deparse_arg(arg: Arg) -> str:
    if arg.name is None:
        return deparse(arg.value)
    return f"{r_name(arg.name)} = {deparse(arg.value)}"


# ---- Python text ----------------------------------------------------------------------------

_ATOM = 14
_UNARY = 11
_POWER = 12

# R operator -> (Python operator, Python precedence).
_PY_BINARY: dict[str, tuple[str, int]] = {
    "||": ("or", 1),
    "&&": ("and", 2),
    "==": ("==", 4),
    "!=": ("!=", 4),
    "<": ("<", 4),
    ">": (">", 4),
    "<=": ("<=", 4),
    ">=": (">=", 4),
    "|": ("|", 5),
    "&": ("&", 7),
    "+": ("+", 9),
    "-": ("-", 9),
    "*": ("*", 10),
    "/": ("/", 10),
    "%%": ("%", 10),
    "%/%": ("//", 10),
    "%*%": ("@", 10),
    "^": ("**", _POWER),
}

#: R functions that have a numpy counterpart under another (or a qualified) name.
PY_FUNCTIONS: dict[str, str] = {
    "log": "np.log",
    "log10": "np.log10",
    "log2": "np.log2",
    "log1p": "np.log1p",
    "exp": "np.exp",
    "expm1": "np.expm1",
    "sqrt": "np.sqrt",
    "abs": "np.abs",
    "sin": "np.sin",
    "cos": "np.cos",
    "tan": "np.tan",
    "floor": "np.floor",
    "ceiling": "np.ceil",
    "sign": "np.sign",
    "factor": "C",
    "as.factor": "C",
}

_PY_CONSTANTS: dict[str, str] = {
    "TRUE": "True",
    "FALSE": "False",
    "NULL": "None",
    "NA": "np.nan",
    "NA_integer_": "np.nan",
    "NA_real_": "np.nan",
    "NA_character_": "None",
    "NA_complex_": "np.nan",
    "Inf": "np.inf",
    "NaN": "np.nan",
}


def py_name(name: str) -> str:
    """A data column name as formulaic expects it: backquoted unless a plain identifier."""
    if name.isidentifier() and not keyword.iskeyword(name):
        return name
    return "`" + name.replace("`", "\\`") + "`"


def _py_number(literal: str) -> str:
    text = literal.removesuffix("L")
    if text[:2].lower() == "0x":
        return str(int(text, 16))
    if text.isdigit():
        return str(int(text))  # Python rejects leading zeros in integer literals
    return text


def _logical_flag(arg: Arg) -> str | None:
    """``raw = T`` / ``raw = F``: R's T and F used as TRUE / FALSE in a named argument."""
    value = arg.value
    if arg.name is not None and isinstance(value, Name) and not value.quoted:
        return {"T": "True", "F": "False"}.get(value.name)
    return None


def to_python(node: Node) -> str:
    """Write ``node`` as a Python expression for formulaic / numpy evaluation.

    Examples
    --------
    >>> from multilevel.formula.parse import parse_expression
    >>> to_python(parse_expression("I(x^2) + log(my.var)"))
    'I(x**2) + np.log(`my.var`)'
    """
    return _py(node)[0]


def _wrap(node: Node, minimum: int) -> str:
    text, precedence = _py(node)
    return f"({text})" if precedence < minimum else text


def _py(node: Node) -> tuple[str, int]:
    """Python text of ``node`` and the precedence of its outermost operator."""
    if isinstance(node, Name):
        return py_name(node.name), _ATOM
    if isinstance(node, Constant):
        return _PY_CONSTANTS.get(node.name, "None"), _ATOM
    if isinstance(node, Number):
        return _py_number(node.literal), _ATOM
    if isinstance(node, String):
        return _quote_string(node.value), _ATOM
    if isinstance(node, Paren):
        return f"({_py(node.inner)[0]})", _ATOM
    if isinstance(node, Unary):
        op = "~" if node.op == "!" else node.op
        return op + _wrap(node.operand, _UNARY), _UNARY
    if isinstance(node, Call):
        return _py_call(node), _ATOM
    if node.op == "$":
        return f"{_wrap(node.left, _ATOM)}.{py_name(deparse(node.right))}", _ATOM
    if node.op == "%in%":
        return f"np.isin({_py(node.left)[0]}, {_py(node.right)[0]})", _ATOM
    if node.op not in _PY_BINARY:
        # ':' and user-defined %op% have no Python counterpart; keep R's spelling.
        return f"{_wrap(node.left, _ATOM)}{node.op}{_wrap(node.right, _ATOM)}", 0
    op, precedence = _PY_BINARY[node.op]
    if node.op == "^":  # right-associative; the exponent may be a signed (unary) expression
        return f"{_wrap(node.left, _POWER + 1)}**{_wrap(node.right, _UNARY)}", _POWER
    left = _wrap(node.left, precedence + (1 if precedence == 4 else 0))
    right = _wrap(node.right, precedence + 1)
    return f"{left} {op} {right}", precedence


def _py_args(args: tuple[Arg, ...]) -> str:
    parts = []
    for arg in args:
        flag = _logical_flag(arg)
        value = flag if flag is not None else _py(arg.value)[0]
        parts.append(value if arg.name is None else f"{arg.name}={value}")
    return ", ".join(parts)


def _py_call(node: Call) -> str:
    func, args = node.func, node.args
    if func == "log" and len(args) == 2 and args[0].name in (None, "x"):
        base = _py(args[1].value)[0]
        return f"(np.log({_py(args[0].value)[0]}) / np.log({base}))"
    if func in ("as.numeric", "as.double") and len(args) == 1:
        return f"np.asarray({_py(args[0].value)[0]}, dtype=float)"
    if func == "as.integer" and len(args) == 1:
        return f"np.asarray({_py(args[0].value)[0]}, dtype=int)"
    if func == "c":
        return f"[{_py_args(args)}]"
    return f"{PY_FUNCTIONS.get(func, func)}({_py_args(args)})"


# ---- data columns ---------------------------------------------------------------------------


def variables(node: Node) -> tuple[str, ...]:
    """The data column names ``node`` uses, in order of first appearance.

    Function names, argument names, constants, the member after ``$`` and R's ``T`` / ``F``
    given as a named argument's value are not columns.
    """
    found: dict[str, None] = {}
    _collect(node, found)
    return tuple(found)


def _collect(node: Node, found: dict[str, None]) -> None:
    if isinstance(node, Name):
        found.setdefault(node.name)
    elif isinstance(node, Call):
        for arg in node.args:
            if _logical_flag(arg) is None:
                _collect(arg.value, found)
    elif isinstance(node, Binary):
        _collect(node.left, found)
        if node.op != "$":
            _collect(node.right, found)
    elif isinstance(node, Unary):
        _collect(node.operand, found)
    elif isinstance(node, Paren):
        _collect(node.inner, found)


__all__ = [
    "PY_FUNCTIONS",
    "deparse",
    "is_syntactic",
    "py_name",
    "r_name",
    "r_number",
    "to_python",
    "variables",
]
