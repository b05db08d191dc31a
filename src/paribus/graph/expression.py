"""Probability functionals as small immutable expression trees.

An identified causal effect is a functional of the observational distribution:
products, marginalisations and ratios of conditional probabilities. Four node
types describe it::

    Probability(variables, given=())   P(variables | given)
    Product(factors)                   the product of the factors (empty: 1)
    Sum(expression, over)              expression marginalised over ``over``
    Fraction(numerator, denominator)   a ratio

Names are variable names, and a name stands for the *value* of its variable.
A name is free unless a :class:`Sum` binds it. By convention a bound copy of a
variable whose name is already in use outside the sum (an intervention value
``X``, say) carries primes, ``X'``, ``X''``: ``sum_{X'} P(Y | M, X') P(X')``
sums over every value of X while ``X`` elsewhere keeps the value set by the
intervention. :func:`paribus.graph.id_algorithm.identify_effect` names its
output this way; a primed name always denotes the unprimed variable.

Rendering (``to_text``, ``to_latex``): a sum extends to the end of the product
it heads; a sum that is not the last factor of a product is bracketed. ``str``
is the text form. Equality and hashing compare expressions up to the order of
the names within a node and of the factors within a product.

The constructors build exactly what they are given. ``simplify`` (and the
``of`` class methods used to build simplified trees) apply rules that keep the
value of a functional of a positive distribution:

* a product of one factor is that factor; nested products are flattened;
  factors equal to 1 are dropped; fractions inside products are pulled out
  into a single fraction; ``P(A | C) P(B | A, C) = P(A, B | C)`` (the chain
  rule);
* a sum over nothing is its body; a sum over variables its body does not
  mention drops them (a ``Sum`` is a marginalisation, so its body is a
  distribution over the summed variables); nested sums merge;
* ``sum_A P(A, B | C) = P(B | C)``, and ``sum_A P(A | C) = 1``; inside a
  product, a factor ``P(A, B | C)`` whose summed variables ``A`` appear in no
  other factor is marginalised the same way (the chain rule read backwards);
  factors that do not mention the summed variables move out of the sum;
* common factors of a numerator and a denominator cancel, and
  ``P(A, B | C) / P(B | C) = P(A | B, C)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from paribus.errors import ParameterError

__all__ = ["ONE", "Expression", "Fraction", "Probability", "Product", "Sum"]

Names = str | Iterable[str]
_Key = tuple[Any, ...]


def _names(value: Names, role: str) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else tuple(value)
    for name in names:
        if not isinstance(name, str) or not name:
            raise ParameterError(f"{role} must be non-empty strings; found {name!r}.")
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise ParameterError(f"{role} name a variable more than once: {', '.join(repeated)}.")
    return names


class Expression(ABC):
    """A probability functional; see the module docstring for the node types."""

    __slots__ = ("_key_cache",)
    _key_cache: _Key

    @property
    @abstractmethod
    def free_variables(self) -> frozenset[str]:
        """Names the expression depends on (those no enclosing sum binds)."""

    @abstractmethod
    def to_text(self) -> str:
        """A plain ASCII rendering, e.g. ``sum_{Z} P(Y | X, Z) P(Z)``."""

    @abstractmethod
    def to_latex(self) -> str:
        r"""A LaTeX (math mode) rendering, e.g. ``\sum_{Z} P(Y \mid X, Z) P(Z)``."""

    @abstractmethod
    def simplify(self) -> Expression:
        """An equal expression rebuilt bottom-up with the simplification rules."""

    @abstractmethod
    def _make_key(self) -> _Key: ...

    def _key(self) -> _Key:
        # canonical form: equal up to the order of names in a node and of factors in a product
        try:
            return self._key_cache
        except AttributeError:
            key = self._make_key()
            object.__setattr__(self, "_key_cache", key)
            return key

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Expression):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.to_text()


class Probability(Expression):
    """``P(variables | given)``: a (conditional) probability of the observed distribution.

    Parameters
    ----------
    variables : str or iterable of str
        At least one name.
    given : str or iterable of str, optional
        The conditioning names, disjoint from ``variables``.
    """

    __slots__ = ("given", "variables")
    variables: tuple[str, ...]
    given: tuple[str, ...]

    def __init__(self, variables: Names, given: Names = ()) -> None:
        vs, gs = _names(variables, "variables"), _names(given, "given")
        if not vs:
            raise ParameterError("Probability needs at least one variable; use ONE for 1.")
        if set(vs) & set(gs):
            both = ", ".join(sorted(set(vs) & set(gs)))
            raise ParameterError(f"variables and given overlap ({both}); they must be disjoint.")
        object.__setattr__(self, "variables", vs)
        object.__setattr__(self, "given", gs)

    @property
    def free_variables(self) -> frozenset[str]:
        return frozenset(self.variables) | frozenset(self.given)

    def to_text(self) -> str:
        given = f" | {', '.join(self.given)}" if self.given else ""
        return f"P({', '.join(self.variables)}{given})"

    def to_latex(self) -> str:
        given = rf" \mid {', '.join(self.given)}" if self.given else ""
        return f"P({', '.join(self.variables)}{given})"

    def simplify(self) -> Expression:
        return self

    def _make_key(self) -> _Key:
        return ("P", tuple(sorted(self.variables)), tuple(sorted(self.given)))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Probability, (self.variables, self.given))

    def __repr__(self) -> str:
        return f"Probability({self.variables!r}, given={self.given!r})"


class Product(Expression):
    """The product of ``factors``; the empty product is 1 (see :data:`ONE`)."""

    __slots__ = ("factors",)
    factors: tuple[Expression, ...]

    def __init__(self, factors: Iterable[Expression]) -> None:
        fs = tuple(factors)
        for f in fs:
            if not isinstance(f, Expression):
                raise ParameterError(f"Product factors must be expressions; found {f!r}.")
        object.__setattr__(self, "factors", fs)

    @classmethod
    def of(cls, *factors: Expression) -> Expression:
        """The simplified product: flattened, without 1s, fractions pulled out, sums last."""
        flat: list[Expression] = []
        stack = list(reversed(factors))
        while stack:
            f = stack.pop()
            if isinstance(f, Product):
                stack.extend(reversed(f.factors))
            else:
                flat.append(f)
        if any(isinstance(f, Fraction) for f in flat):
            nums = [f.numerator if isinstance(f, Fraction) else f for f in flat]
            dens = [f.denominator for f in flat if isinstance(f, Fraction)]
            return Fraction.of(cls.of(*nums), cls.of(*dens))
        flat = _merge_chain(flat)
        if len(flat) == 1:
            return flat[0]
        flat.sort(key=lambda f: isinstance(f, Sum))  # stable: sums go last
        return cls(flat)

    @property
    def free_variables(self) -> frozenset[str]:
        return frozenset().union(*(f.free_variables for f in self.factors))

    def _render(self, latex: bool) -> str:
        if not self.factors:
            return "1"
        parts = []
        for i, f in enumerate(self.factors):
            text = f.to_latex() if latex else f.to_text()
            last = i == len(self.factors) - 1
            if (isinstance(f, Sum | Product) and not last) or (
                isinstance(f, Fraction) and not latex
            ):
                text = rf"\left[ {text} \right]" if latex else f"[{text}]"
            parts.append(text)
        return " ".join(parts)

    def to_text(self) -> str:
        return self._render(latex=False)

    def to_latex(self) -> str:
        return self._render(latex=True)

    def simplify(self) -> Expression:
        return Product.of(*(f.simplify() for f in self.factors))

    def _make_key(self) -> _Key:
        return ("*", tuple(sorted(f._key() for f in self.factors)))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Product, (self.factors,))

    def __repr__(self) -> str:
        return f"Product({list(self.factors)!r})"


def _merge_chain(factors: list[Expression]) -> list[Expression]:
    """Apply ``P(A | C) P(B | A, C) = P(A, B | C)`` until no pair fits."""
    factors = list(factors)
    merged = True
    while merged:
        merged = False
        for i, a in enumerate(factors):
            for j, b in enumerate(factors):
                if (
                    i != j
                    and isinstance(a, Probability)
                    and isinstance(b, Probability)
                    and set(b.given) == set(a.given) | set(a.variables)
                ):
                    factors[i] = Probability(a.variables + b.variables, a.given)
                    del factors[j]
                    merged = True
                    break
            if merged:
                break
    return factors


#: The constant 1 (the empty product): a probability summed over all its variables.
ONE: Expression = Product(())


class Sum(Expression):
    """``sum_{over} expression``: the expression marginalised over the names ``over``."""

    __slots__ = ("expression", "over")
    expression: Expression
    over: tuple[str, ...]

    def __init__(self, expression: Expression, over: Names) -> None:
        if not isinstance(expression, Expression):
            raise ParameterError(f"Sum needs an expression to sum; found {expression!r}.")
        object.__setattr__(self, "expression", expression)
        object.__setattr__(self, "over", _names(over, "over"))

    @classmethod
    def of(cls, expression: Expression, over: Names) -> Expression:
        """The simplified marginalisation of ``expression`` over ``over``."""
        free = expression.free_variables
        names = tuple(v for v in _names(over, "over") if v in free)
        if not names:
            return expression
        if isinstance(expression, Sum):
            return cls.of(expression.expression, expression.over + names)
        if isinstance(expression, Probability):
            marginal = tuple(v for v in names if v in expression.variables)
            if not marginal:
                return cls(expression, names)
            rest = tuple(v for v in expression.variables if v not in marginal)
            reduced = Probability(rest, expression.given) if rest else ONE
            return cls.of(reduced, tuple(v for v in names if v not in marginal))
        if isinstance(expression, Fraction):
            if set(names) & expression.denominator.free_variables:
                return cls(expression, names)
            return Fraction.of(cls.of(expression.numerator, names), expression.denominator)
        if isinstance(expression, Product):
            return cls._of_product(list(expression.factors), names)
        return cls(expression, names)

    @classmethod
    def _of_product(cls, factors: list[Expression], names: tuple[str, ...]) -> Expression:
        body = Product.of(*factors)  # flattened and chain-merged first
        if not isinstance(body, Product):
            return cls.of(body, names)
        factors = list(body.factors)
        for i, f in enumerate(factors):
            if not isinstance(f, Probability):
                continue
            others = frozenset().union(*(g.free_variables for j, g in enumerate(factors) if j != i))
            gone = (set(names) & set(f.variables)) - others
            if gone:  # the chain rule read backwards; then start again on the smaller sum
                rest = tuple(v for v in f.variables if v not in gone)
                factors[i] = Probability(rest, f.given) if rest else ONE
                return cls.of(Product.of(*factors), tuple(v for v in names if v not in gone))
        inside = [f for f in factors if f.free_variables & set(names)]
        outside = [f for f in factors if not f.free_variables & set(names)]
        body = Product.of(*inside)
        summed = cls(body, names) if isinstance(body, Product) else cls.of(body, names)
        return Product.of(*outside, summed)

    @property
    def free_variables(self) -> frozenset[str]:
        return self.expression.free_variables - frozenset(self.over)

    def to_text(self) -> str:
        body = self.expression.to_text()
        if isinstance(self.expression, Fraction):
            body = f"[{body}]"
        return f"sum_{{{', '.join(self.over)}}} {body}" if self.over else body

    def to_latex(self) -> str:
        body = self.expression.to_latex()
        return rf"\sum_{{{', '.join(self.over)}}} {body}" if self.over else body

    def simplify(self) -> Expression:
        return Sum.of(self.expression.simplify(), self.over)

    def _make_key(self) -> _Key:
        return ("S", tuple(sorted(self.over)), self.expression._key())

    def __reduce__(self) -> tuple[Any, ...]:
        return (Sum, (self.expression, self.over))

    def __repr__(self) -> str:
        return f"Sum({self.expression!r}, over={self.over!r})"


class Fraction(Expression):
    """``numerator / denominator``."""

    __slots__ = ("denominator", "numerator")
    numerator: Expression
    denominator: Expression

    def __init__(self, numerator: Expression, denominator: Expression) -> None:
        for part in (numerator, denominator):
            if not isinstance(part, Expression):
                raise ParameterError(f"Fraction needs expressions; found {part!r}.")
        object.__setattr__(self, "numerator", numerator)
        object.__setattr__(self, "denominator", denominator)

    @classmethod
    def of(cls, numerator: Expression, denominator: Expression) -> Expression:
        """The simplified ratio: common factors cancel, ``P(A, B | C) / P(B | C) = P(A | B, C)``."""
        if isinstance(numerator, Fraction):
            return cls.of(numerator.numerator, Product.of(numerator.denominator, denominator))
        if isinstance(denominator, Fraction):
            return cls.of(Product.of(numerator, denominator.denominator), denominator.numerator)
        nums = list(numerator.factors if isinstance(numerator, Product) else (numerator,))
        dens = list(denominator.factors if isinstance(denominator, Product) else (denominator,))
        for d in list(dens):
            if d in nums:
                nums.remove(d)
                dens.remove(d)
        for d in list(dens):
            if not isinstance(d, Probability):
                continue
            for i, n in enumerate(nums):
                if (
                    isinstance(n, Probability)
                    and set(n.given) == set(d.given)
                    and set(d.variables) < set(n.variables)
                ):
                    rest = tuple(v for v in n.variables if v not in d.variables)
                    nums[i] = Probability(rest, n.given + d.variables)
                    dens.remove(d)
                    break
        if not dens:
            return Product.of(*nums)
        return cls(Product.of(*nums), Product.of(*dens))

    @property
    def free_variables(self) -> frozenset[str]:
        return self.numerator.free_variables | self.denominator.free_variables

    def to_text(self) -> str:
        def operand(e: Expression) -> str:
            atomic = isinstance(e, Probability) or e == ONE
            return e.to_text() if atomic else f"[{e.to_text()}]"

        return f"{operand(self.numerator)} / {operand(self.denominator)}"

    def to_latex(self) -> str:
        return rf"\frac{{{self.numerator.to_latex()}}}{{{self.denominator.to_latex()}}}"

    def simplify(self) -> Expression:
        return Fraction.of(self.numerator.simplify(), self.denominator.simplify())

    def _make_key(self) -> _Key:
        return ("/", self.numerator._key(), self.denominator._key())

    def __reduce__(self) -> tuple[Any, ...]:
        return (Fraction, (self.numerator, self.denominator))

    def __repr__(self) -> str:
        return f"Fraction({self.numerator!r}, {self.denominator!r})"
