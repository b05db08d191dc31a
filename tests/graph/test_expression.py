"""Probability-functional expression trees: construction, rendering, simplification."""

from __future__ import annotations

import copy
import pickle

import pytest

from paribus.errors import ParameterError
from paribus.graph.expression import ONE, Expression, Fraction, Probability, Product, Sum

P = Probability


def test_probability_text_and_latex():
    assert P("Y").to_text() == "P(Y)"
    assert P(("Y", "M"), ("X",)).to_text() == "P(Y, M | X)"
    assert P("Y", ["X", "Z"]).to_latex() == r"P(Y \mid X, Z)"
    assert str(P("Y", "X")) == "P(Y | X)"


def test_front_door_text_and_latex():
    inner = Sum(Product([P("Y", ("M", "X'")), P("X'")]), "X'")
    expression = Sum(Product([P("M", "X"), inner]), "M")
    assert expression.to_text() == "sum_{M} P(M | X) sum_{X'} P(Y | M, X') P(X')"
    assert expression.to_latex() == r"\sum_{M} P(M \mid X) \sum_{X'} P(Y \mid M, X') P(X')"
    assert expression.free_variables == {"M", "X", "Y"} - {"M"}


def test_a_sum_that_is_not_the_last_factor_is_bracketed():
    expression = Product([Sum(P(("A", "B")), "A"), P("C", "B")])
    assert expression.to_text() == "[sum_{A} P(A, B)] P(C | B)"
    assert expression.to_latex() == r"\left[ \sum_{A} P(A, B) \right] P(C \mid B)"


def test_fraction_rendering():
    ratio = Fraction(Sum(Product([P("W"), P("Y", "W")]), "W"), P("X"))
    assert ratio.to_text() == "[sum_{W} P(W) P(Y | W)] / P(X)"
    assert ratio.to_latex() == r"\frac{\sum_{W} P(W) P(Y \mid W)}{P(X)}"
    assert Sum(ratio, "X").to_text() == "sum_{X} [[sum_{W} P(W) P(Y | W)] / P(X)]"
    assert Product([ratio, P("Z")]).to_text() == "[[sum_{W} P(W) P(Y | W)] / P(X)] P(Z)"


def test_one():
    assert ONE.to_text() == "1" and ONE.to_latex() == "1"
    assert ONE == Product([])
    assert ONE.free_variables == frozenset()


def test_equality_ignores_name_order_and_factor_order():
    assert P(("A", "B"), ("C", "D")) == P(("B", "A"), ("D", "C"))
    assert Product([P("A"), P("B")]) == Product([P("B"), P("A")])
    assert Sum(P(("A", "B")), ("A", "B")) == Sum(P(("A", "B")), ("B", "A"))
    assert P("A") != P("A", "B")
    assert len({P(("A", "B")), P(("B", "A"))}) == 1
    assert P("A") != "P(A)"


def test_expressions_are_immutable_and_pickle():
    p = P("Y", "X")
    with pytest.raises(AttributeError):
        p.variables = ("Z",)  # type: ignore[misc]
    expression = Sum(Product([P("M", "X"), Fraction(P("Y"), P("X"))]), "M")
    for clone in (pickle.loads(pickle.dumps(expression)), copy.deepcopy(expression)):
        assert clone == expression and clone.to_text() == expression.to_text()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: P(()), "at least one variable"),
        (lambda: P("A", "A"), "overlap"),
        (lambda: P(("A", "A")), "more than once"),
        (lambda: P(("A", "")), "non-empty strings"),
        (lambda: P([1]), "non-empty strings"),
        (lambda: Product([P("A"), "P(B)"]), "must be expressions"),
        (lambda: Sum("P(A)", "A"), "needs an expression"),
        (lambda: Fraction(P("A"), 1), "needs expressions"),
    ],
)
def test_refuses_malformed_nodes(make, match):
    with pytest.raises(ParameterError, match=match):
        make()


# -- simplification -------------------------------------------------------------------------------


def test_sum_over_nothing_is_its_body():
    assert Sum.of(P("A"), ()) == P("A")
    assert Sum(P("A"), ()).simplify() == P("A")
    assert Sum.of(P("A"), "B") == P("A")  # B is not a variable of the body


def test_marginalising_a_probability():
    assert Sum.of(P(("A", "B"), "C"), "A") == P("B", "C")
    assert Sum.of(P(("A", "B")), ("A", "B")) == ONE
    assert Sum.of(P("A", "C"), "A").to_text() == "1"
    # a conditioning name is not marginalised away
    assert Sum.of(P("A", "C"), "C") == Sum(P("A", "C"), "C")
    assert Sum.of(P(("A", "B"), "C"), ("A", "C")) == Sum(P("B", "C"), "C")


def test_products_flatten_and_drop_ones():
    nested = Product([P("A"), Product([P("B", "C"), ONE]), Product([])])
    flat = nested.simplify()
    assert isinstance(flat, Product) and flat.factors == (P("A"), P("B", "C"))
    assert Product.of(P("A")) == P("A")
    assert Product.of() == ONE


def test_chain_rule_merges_factors():
    assert Product.of(P("A", "C"), P("B", ("A", "C"))) == P(("A", "B"), "C")
    # P(B | A, M) does not continue P(A): M is extra
    assert Product.of(P("A"), P("B", ("A", "M"))) == Product([P("A"), P("B", ("A", "M"))])


def test_sums_move_last_and_nested_sums_merge():
    s = Sum(P(("B", "D")), "D")
    assert Product.of(s, P("A")).factors == (P("A"), s)  # type: ignore[attr-defined]
    body = Product([P("A", "C"), P("B", "D"), P("Y", ("A", "B"))])
    merged = Sum.of(Sum(body, "A"), "B")
    assert isinstance(merged, Sum) and merged.over == ("A", "B") and merged.expression == body
    # merging can expose the chain rule: P(B | A) P(Y | A, B) = P(B, Y | A), then B sums out
    chained = Sum.of(Sum(Product([P("A", "C"), P("B", "A"), P("Y", ("A", "B"))]), "A"), "B")
    assert chained.to_text() == "sum_{A} P(A | C) P(Y | A)"
    # an inner sum that telescopes, then the outer one: sum_B sum_A P(A | B, C) P(B | D) = 1
    assert Sum.of(Sum(Product([P("A", ("B", "C")), P("B", "D")]), "A"), "B") == ONE


def test_sum_telescopes_factors_of_summed_variables():
    # sum_{M} P(M | X) P(Y | X) = P(Y | X): M appears only in its own factor
    assert Sum.of(Product([P("M", "X"), P("Y", "X")]), "M") == P("Y", "X")
    # sum_{M} P(M | X) P(Y | M): M also in another factor, nothing to drop
    kept = Sum.of(Product([P("M", "X"), P("Y", "M")]), "M")
    assert kept.to_text() == "sum_{M} P(M | X) P(Y | M)"
    # factors without the summed variable move out of the sum
    out = Sum.of(Product([P("Z"), P("M", "X"), P("Y", "M")]), "M")
    assert out.to_text() == "P(Z) sum_{M} P(M | X) P(Y | M)"


def test_sum_over_a_fraction_with_a_constant_denominator():
    ratio = Fraction(Product([P("A", "C"), P("B", "A")]), P("C"))
    summed = Sum.of(ratio, "A")
    assert isinstance(summed, Fraction)
    assert summed.to_text() == "[sum_{A} P(A | C) P(B | A)] / P(C)"
    # the denominator depends on A: the sum stays outside
    assert isinstance(Sum.of(Fraction(P("B", "A"), P("A")), "A"), Sum)


def test_fraction_cancels_and_conditions():
    assert Fraction.of(P(("A", "B"), "C"), P("B", "C")) == P("A", ("B", "C"))
    assert Fraction.of(P("A"), ONE) == P("A")
    assert Fraction.of(P("A"), P("A")) == ONE
    assert Fraction.of(Product([P("A"), P("B", "A")]), P("A")) == P("B", "A")
    nested = Fraction.of(Fraction(P("A"), P("B")), Fraction(P("C"), P("D")))
    assert nested == Fraction(Product([P("A"), P("D")]), Product([P("B"), P("C")]))
    # different conditioning: no rule applies
    assert Fraction.of(P("A", "C"), P("A", "D")) == Fraction(P("A", "C"), P("A", "D"))


def test_product_pulls_fractions_out():
    result = Product.of(P("Z"), Fraction(P(("A", "B")), P("B")))
    assert result == Product([P("Z"), P("A", "B")])


def test_simplify_is_idempotent_and_keeps_free_variables():
    expression = Sum(
        Product([Product([P("M", "X"), ONE]), Sum(Product([P("Y", ("M", "W")), P("W")]), "W")]),
        "M",
    )
    once = expression.simplify()
    assert once.simplify() == once
    assert once.free_variables == expression.free_variables == {"X", "Y"}
    assert isinstance(once, Expression)
