"""OmittedVariableBias against the Darfur example of Cinelli & Hazlett (2020, JRSS-B 82:39).

Reference numbers: /work/shared/datasets/README.md section 14 (the paper's Table/Section 6 and
the sensemakr README): ``peacefactor ~ directlyharmed + age + farmer_dar + herder_dar +
pastvoted + hhsize_darfur + female + village`` (village fixed effects).
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import optimize

import paribus
from paribus.checks.omitted_variable_bias import OmittedVariableBias
from paribus.errors import DataError, NotFittedError, ParameterError

matplotlib.use("Agg")

COVARIATES = ["age", "farmer_dar", "herder_dar", "pastvoted", "hhsize_darfur", "female"]


@pytest.fixture(scope="module")
def darfur(shared_datasets) -> pd.DataFrame:
    return pd.read_csv(shared_datasets / "darfur.csv")


@pytest.fixture(scope="module")
def ovb(darfur: pd.DataFrame) -> OmittedVariableBias:
    return OmittedVariableBias.from_data(
        darfur,
        "directlyharmed",
        "peacefactor",
        COVARIATES,
        fixed_effects="village",
        benchmarks="female",
    )


def test_darfur_regression(ovb: OmittedVariableBias) -> None:
    assert round(ovb.estimate, 5) == 0.09732
    assert round(ovb.std_error, 5) == 0.02326
    assert round(ovb.t_value, 5) == 4.18445
    assert ovb.dof == 783


def test_darfur_partial_r2_and_robustness_values(ovb: OmittedVariableBias) -> None:
    assert round(ovb.partial_r2, 5) == 0.02187
    assert round(ovb.robustness_value(), 5) == 0.13878
    assert round(ovb.robustness_value(q=1, alpha=0.05), 5) == 0.07626


def test_darfur_female_benchmark_bounds(ovb: OmittedVariableBias) -> None:
    table = ovb.bounds("female", kd=[1, 2, 3])
    assert [round(x, 4) for x in table["estimate"]] == [0.0752, 0.0529, 0.0304]
    assert [round(x, 4) for x in table["t_value"]] == [3.4389, 2.6002, 1.6281]


def test_benchmark_partial_r2_matches_t_statistics(darfur: pd.DataFrame, ovb) -> None:
    # slow reference: partial R² of a single regressor = t² / (t² + dof) of its OLS t-stat
    import statsmodels.formula.api as smf

    fy = smf.ols(
        "peacefactor ~ directlyharmed + " + " + ".join(COVARIATES) + " + C(village)", darfur
    ).fit()
    fd = smf.ols("directlyharmed ~ " + " + ".join(COVARIATES) + " + C(village)", darfur).fit()
    r2d, r2y = ovb.benchmarks["female"]
    assert r2y == pytest.approx(
        fy.tvalues["female"] ** 2 / (fy.tvalues["female"] ** 2 + fy.df_resid)
    )
    assert r2d == pytest.approx(
        fd.tvalues["female"] ** 2 / (fd.tvalues["female"] ** 2 + fd.df_resid)
    )
    assert ovb.estimate == pytest.approx(fy.params["directlyharmed"], rel=1e-10)
    assert ovb.std_error == pytest.approx(fy.bse["directlyharmed"], rel=1e-10)


def test_from_regression_adjustment(darfur: pd.DataFrame, ovb) -> None:
    dummies = pd.get_dummies(darfur["village"], prefix="v", drop_first=True, dtype=float)
    dummies.columns = [f"v{i}" for i in range(dummies.shape[1])]
    data = pd.concat([darfur[["peacefactor", "directlyharmed", *COVARIATES]], dummies], axis=1)
    est = paribus.RegressionAdjustment(interactions=False)
    est.fit(data, "directlyharmed", "peacefactor", [*COVARIATES, *dummies.columns])
    from_ra = OmittedVariableBias.from_regression(est, data, "peacefactor", benchmarks="female")
    assert from_ra.estimate == pytest.approx(ovb.estimate, rel=1e-10)
    assert from_ra.std_error == pytest.approx(ovb.std_error, rel=1e-10)
    assert from_ra.benchmarks["female"] == pytest.approx(ovb.benchmarks["female"], rel=1e-8)
    with pytest.raises(DataError, match="refitting"):
        OmittedVariableBias.from_regression(
            est, data.assign(peacefactor=1.5 * data["peacefactor"]), "peacefactor"
        )


def test_raw_numbers_match_data(ovb: OmittedVariableBias) -> None:
    raw = OmittedVariableBias(0.0973158192849572, 0.023256537809811146, 783)
    assert raw.robustness_value() == pytest.approx(ovb.robustness_value(), rel=1e-12)
    manual = OmittedVariableBias(
        ovb.estimate, ovb.std_error, ovb.dof, benchmarks={"f": ovb.benchmarks["female"]}
    )
    assert manual.bounds("f", 2)["t_value"].iloc[0] == pytest.approx(
        ovb.bounds("female", 2)["t_value"].iloc[0], rel=1e-12
    )


@pytest.mark.parametrize("q", [0.5, 1.0, 2.0])
def test_robustness_values_solve_their_definition(ovb: OmittedVariableBias, q: float) -> None:
    target = (1 - q) * ovb.estimate

    def gap(key: str):
        return lambda x: ovb.adjusted(x, x)[key] - target

    rv = optimize.brentq(gap("estimate"), 0, 0.999, xtol=1e-14)
    assert ovb.robustness_value(q) == pytest.approx(rv, rel=1e-9)
    rva = optimize.brentq(gap("ci_lower"), 0, 0.999, xtol=1e-14)
    assert ovb.robustness_value(q, alpha=0.05) == pytest.approx(rva, rel=1e-9)


def test_robustness_value_branches_are_continuous() -> None:
    # RV_{q,alpha} is 0 when not significant, and switches formula where f_q f* = 1
    assert OmittedVariableBias(1.0, 1.0, 100).robustness_value(alpha=0.05) == 0.0
    dof = 5
    fcrit = abs(float(__import__("scipy").stats.t.ppf(0.025, dof - 1))) / math.sqrt(dof - 1)
    f_edge = 1 / fcrit
    values = [
        OmittedVariableBias(f * math.sqrt(dof), 1.0, dof).robustness_value(alpha=0.05)
        for f in (f_edge * (1 - 1e-9), f_edge * (1 + 1e-9))
    ]
    assert values[0] == pytest.approx(values[1], rel=1e-6)


def test_adjusted_formulas_and_sign(ovb: OmittedVariableBias) -> None:
    none = ovb.adjusted(0.0, 0.0)
    assert none["estimate"] == ovb.estimate
    assert none["std_error"] == pytest.approx(ovb.std_error * math.sqrt(783 / 782))
    grid = ovb.adjusted(np.array([0.1, 0.2]), np.array([0.3, 0.1]))
    assert grid["estimate"].shape == (2,)
    neg = OmittedVariableBias(-ovb.estimate, ovb.std_error, ovb.dof)
    assert neg.adjusted(0.1, 0.1)["estimate"] == pytest.approx(-ovb.adjusted(0.1, 0.1)["estimate"])
    away = OmittedVariableBias(ovb.estimate, ovb.std_error, ovb.dof, reduce=False)
    assert away.adjusted(0.1, 0.1)["estimate"] > ovb.estimate


def test_summary_prints(ovb: OmittedVariableBias) -> None:
    text = str(ovb.summary())
    assert "0.1388" in text and "0.0763" in text and "3.4389" in text
    assert "<pre>" in ovb.summary()._repr_html_()


@pytest.mark.parametrize("kind", ["estimate", "t_value"])
def test_contour_plot_renders(ovb: OmittedVariableBias, kind: Any) -> None:
    import matplotlib.pyplot as plt

    ax = ovb.plot_contour(kind, kd=[1, 2, 3])
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.texts]
    assert any("3x female" in s for s in labels)
    assert ax.get_xlabel().startswith("partial R")
    plt.close(ax.figure)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"estimate": 1.0, "std_error": 0.0, "dof": 10}, "std_error"),
        ({"estimate": math.nan, "std_error": 1.0, "dof": 10}, "estimate"),
        ({"estimate": 1.0, "std_error": 1.0, "dof": 1}, "dof"),
        ({"estimate": 1.0, "std_error": 1.0, "dof": 10.5}, "dof"),
        ({"estimate": 1.0, "std_error": 1.0, "dof": 10, "alpha": 1.5}, "alpha"),
        ({"estimate": 1.0, "std_error": 1.0, "dof": 10, "q": 0}, "q"),
        ({"estimate": 1.0, "std_error": 1.0, "dof": 10, "benchmarks": {"x": (1.2, 0.1)}}, "R²"),
    ],
)
def test_refusals_raw(kwargs: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        OmittedVariableBias(**kwargs)


def test_refusals_methods(ovb: OmittedVariableBias, darfur: pd.DataFrame) -> None:
    with pytest.raises(ParameterError, match="r2dz_x"):
        ovb.adjusted(1.0, 0.1)
    with pytest.raises(ParameterError, match="r2yz_dx"):
        ovb.adjusted(0.1, -0.1)
    with pytest.raises(ParameterError, match="unknown benchmark"):
        ovb.bounds("age")
    with pytest.raises(ParameterError, match="smaller kd"):
        ovb.bounds("female", kd=500)
    with pytest.raises(ParameterError, match="kind"):
        ovb.plot_contour("bias")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="not in the data"):
        OmittedVariableBias.from_data(darfur, "directlyharmed", "peacefactor", ["nope"])
    with pytest.raises(DataError, match="not numeric"):
        OmittedVariableBias.from_data(darfur, "directlyharmed", "peacefactor", ["village"])
    with pytest.raises(ParameterError, match="benchmark"):
        OmittedVariableBias.from_data(
            darfur, "directlyharmed", "peacefactor", ["age"], benchmarks="female"
        )
    with pytest.raises(DataError, match="rank deficient"):
        OmittedVariableBias.from_data(
            darfur.assign(age2=darfur["age"] * 2), "directlyharmed", "peacefactor", ["age", "age2"]
        )
    interacted = paribus.RegressionAdjustment(interactions=True).fit(
        darfur, "directlyharmed", "peacefactor", ["age"]
    )
    with pytest.raises(ParameterError, match="interactions=False"):
        OmittedVariableBias.from_regression(interacted, darfur, "peacefactor")
    with pytest.raises(NotFittedError):
        OmittedVariableBias.from_regression(paribus.RegressionAdjustment(), darfur, "peacefactor")
    with pytest.raises(ParameterError, match="RegressionAdjustment"):
        OmittedVariableBias.from_regression(object(), darfur, "peacefactor")


def test_frozen(ovb: OmittedVariableBias) -> None:
    with pytest.raises(AttributeError):
        ovb.estimate = 0.0  # type: ignore[misc]
