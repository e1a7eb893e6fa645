"""lme4 model formulas in R syntax, parsed into plain frozen values.

>>> from multilevel.formula import parse_formula
>>> f = parse_formula("Reaction ~ 1 + Days + (1 + Days | Subject)")
>>> f.response.text, f.fixed.labels, [r.text for r in f.random]
('Reaction', ('Days',), ['1 + Days | Subject'])

Modules, one concept each: :mod:`~multilevel.formula.tokens` (tokenizer),
:mod:`~multilevel.formula.ast` (expression tree), :mod:`~multilevel.formula.parse` (parser),
:mod:`~multilevel.formula.render` (R and Python text), :mod:`~multilevel.formula.terms` (value
types), :mod:`~multilevel.formula.algebra` (R's term algebra),
:mod:`~multilevel.formula.expand` (random-effects bars) and :mod:`~multilevel.formula.build`
(the entry points).
"""

from multilevel.formula.ast import (
    Arg,
    Binary,
    Call,
    Constant,
    FormulaTree,
    Name,
    Node,
    Number,
    Paren,
    String,
    Unary,
)
from multilevel.formula.build import parse_formula, parse_terms
from multilevel.formula.parse import parse_expression, parse_tree
from multilevel.formula.render import deparse, to_python
from multilevel.formula.terms import Factor, ModelTerms, ParsedFormula, RandomTerm, Term

__all__ = [
    "Arg",
    "Binary",
    "Call",
    "Constant",
    "Factor",
    "FormulaTree",
    "ModelTerms",
    "Name",
    "Node",
    "Number",
    "Paren",
    "ParsedFormula",
    "RandomTerm",
    "String",
    "Term",
    "Unary",
    "deparse",
    "parse_expression",
    "parse_formula",
    "parse_terms",
    "parse_tree",
    "to_python",
]
