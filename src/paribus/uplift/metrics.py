"""Uplift and Qini curves, their areas, and uplift at the top k.

Sort the units by decreasing uplift score and let ``N_T(k)``, ``N_C(k)`` be the treated
and control units among the first ``k``, and ``R_T(k)``, ``R_C(k)`` the sums of their
outcomes (responses). Two curves summarise how well the ranking finds the responsive
units:

* the uplift (cumulative gain) curve (Rzepakowski & Jaroszewicz 2012; Gutierrez &
  Gérardy 2017, Sec. 4.1): ``G(k) = (R_T(k) / N_T(k) - R_C(k) / N_C(k)) * k``, the
  extra responses if the first ``k`` units were treated;
* the Qini curve (Radcliffe 2007): ``Q(k) = R_T(k) - R_C(k) N_T(k) / N_C(k)``, the same
  difference on the scale of the treated group.

Two conventions are offered (``definition=``):

``"sklift"`` (default; scikit-uplift 0.5.1)
    Points only at the ends of runs of tied scores (tied units enter together), a ratio
    with an empty arm counts as 0, and the point (0, 0) is prepended. The areas are
    trapezoidal and normalised: ``(A_model - A_random) / (A_perfect - A_random)``, the
    random line joining the origin to the curve's end, the perfect curve that of an
    oracle ranking (:func:`perfect_uplift_curve`, :func:`perfect_qini_curve`).
    :func:`auuc` equals ``sklift.metrics.uplift_auc_score`` and
    :func:`qini_coefficient` ``qini_auc_score``.

``"causalml"`` (CausalML 0.15.5 ``get_cumgain`` / ``get_qini`` / ``auuc_score`` /
``qini_score``)
    One point per unit ``k = 0..n`` (ties broken by the sort order), points where an
    arm is still empty are linearly interpolated between the origin and the first point
    with both arms; with ``normalize=True`` the curve is divided by ``|G(n)|`` (resp.
    ``|Q(n)|``). The AUUC is the plain mean of the ``n + 1`` curve values (no random
    line subtracted); the Qini score is the mean of ``Q(k)`` minus the mean of the
    straight line from ``Q(0)`` to ``Q(n)``.

The two conventions give the same curve values at every ``k`` where both arms are
present and the scores have no ties; their areas differ by construction (trapezoid vs
point average, perfect-curve vs end-point normalisation, random line subtracted or not).

Observational data: with ``propensity=`` (and optionally ``mu0``, ``mu1``) the curves
accumulate the doubly robust scores ``Gamma`` of :func:`paribus.uplift.evaluation.dr_scores`:
``G(k) = sum of Gamma over the first k`` and ``Q(k) = N_T(k) / k * G(k)`` (the arm
version satisfies the same identity, ``Q = N_T / k * G``). A perfect curve then ranks
by ``Gamma`` itself.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from paribus.errors import DataError, ParameterError
from paribus.uplift.evaluation import (
    check_uplift_inputs,
    descending_order,
    dr_scores,
    is_binary,
)

__all__ = [
    "auuc",
    "perfect_qini_curve",
    "perfect_uplift_curve",
    "qini_coefficient",
    "qini_curve",
    "uplift_at_k",
    "uplift_curve",
]

Definition = Literal["sklift", "causalml"]
Curve = tuple[np.ndarray, np.ndarray]


def _check_definition(definition: Any, where: str) -> None:
    if definition not in ("sklift", "causalml"):
        raise ParameterError(
            f"{where}: definition={definition!r} is unknown; expected 'sklift' or 'causalml'."
        )


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 where ``den`` is 0 (scikit-uplift's convention)."""
    out = np.zeros_like(num, dtype=float)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _cumulative(
    y: np.ndarray, t: np.ndarray, score: np.ndarray, ties: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``k, N_T(k), R_T(k), R_C(k)`` along the descending order (at tie ends if ``ties``)."""
    order = descending_order(score)
    s, ts, ys = score[order], t[order], y[order]
    ends = np.r_[np.flatnonzero(np.diff(s)), s.size - 1] if ties else np.arange(s.size)
    k = (ends + 1).astype(float)
    n_t = np.cumsum(ts, dtype=np.float64)[ends]
    r_t = np.cumsum(ys * ts, dtype=np.float64)[ends]
    r_c = np.cumsum(ys * (1 - ts), dtype=np.float64)[ends]
    return k, n_t, r_t, r_c


def _dr_curve(gamma: np.ndarray, t: np.ndarray, score: np.ndarray, qini: bool) -> Curve:
    order = descending_order(score)
    s = score[order]
    ends = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    k = (ends + 1).astype(float)
    g = np.cumsum(gamma[order], dtype=np.float64)[ends]
    if qini:
        g = np.cumsum(t[order], dtype=np.float64)[ends] / k * g
    return np.r_[0.0, k], np.r_[0.0, g]


def _causalml_curve(y: np.ndarray, t: np.ndarray, score: np.ndarray, qini: bool) -> Curve:
    k, n_t, r_t, r_c = _cumulative(y, t, score, ties=False)
    n_c = k - n_t
    with np.errstate(divide="ignore", invalid="ignore"):
        # CausalML interpolates the Qini values, but the lift (mean difference) before
        # multiplying by k for the gain curve
        values = r_t - r_c * n_t / n_c if qini else r_t / n_t - r_c / n_c
    x = np.r_[0.0, k]
    values = np.r_[0.0, values]
    bad = ~np.isfinite(values)
    if bad.any():  # an arm still empty: interpolate linearly (pandas ``interpolate``)
        good = ~bad
        values[bad] = np.interp(x[bad], x[good], values[good])
    return x, values if qini else values * x


def _curve(
    y: Any,
    treatment: Any,
    score: Any,
    qini: bool,
    definition: Any,
    propensity: Any,
    mu0: Any,
    mu1: Any,
    where: str,
) -> Curve:
    _check_definition(definition, where)
    yy, t, s = check_uplift_inputs(y, treatment, score, where)
    assert s is not None
    if propensity is not None:
        if definition != "sklift":
            raise ParameterError(
                f"{where}: doubly robust curves (propensity=) use definition='sklift' only."
            )
        return _dr_curve(dr_scores(yy, t, propensity, mu0, mu1), t, s, qini)
    if mu0 is not None or mu1 is not None:
        raise ParameterError(f"{where}: mu0/mu1 are used only together with propensity=.")
    if definition == "causalml":
        return _causalml_curve(yy, t, s, qini)
    k, n_t, r_t, r_c = _cumulative(yy, t, s, ties=True)
    n_c = k - n_t
    if qini:
        values = r_t - r_c * _ratio(n_t, n_c)
    else:
        values = (_ratio(r_t, n_t) - _ratio(r_c, n_c)) * k
    return np.r_[0.0, k], np.r_[0.0, values]


def uplift_curve(
    y: Any,
    treatment: Any,
    score: Any,
    *,
    definition: Definition = "sklift",
    propensity: Any = None,
    mu0: Any = None,
    mu1: Any = None,
) -> Curve:
    """The uplift (cumulative gain) curve ``G(k)`` (module docstring).

    Parameters
    ----------
    y : array of shape (n,)
        Outcomes (binary or continuous).
    treatment : array of shape (n,)
        0/1 treatment.
    score : array of shape (n,)
        Predicted uplift; higher is targeted first.
    definition : {"sklift", "causalml"}, default "sklift"
    propensity, mu0, mu1 : optional
        Doubly robust curve for observational data (module docstring).

    Returns
    -------
    x, values : ndarray
        Number targeted and ``G(x)``, starting at (0, 0).
    """
    return _curve(y, treatment, score, False, definition, propensity, mu0, mu1, "uplift_curve")


def qini_curve(
    y: Any,
    treatment: Any,
    score: Any,
    *,
    definition: Definition = "sklift",
    propensity: Any = None,
    mu0: Any = None,
    mu1: Any = None,
) -> Curve:
    """The Qini curve ``Q(k) = R_T(k) - R_C(k) N_T(k) / N_C(k)`` (Radcliffe 2007).

    Parameters and returns as :func:`uplift_curve`.
    """
    return _curve(y, treatment, score, True, definition, propensity, mu0, mu1, "qini_curve")


def _binary_inputs(y: Any, treatment: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    yy, t, _ = check_uplift_inputs(y, treatment, None, where)
    if not is_binary(yy):
        raise DataError(
            f"{where}: the perfect curve is defined for a binary 0/1 outcome; y has values "
            f"{np.unique(yy)[:5].tolist()}... Use normalize=False, or doubly robust scores "
            "(propensity=) whose perfect curve ranks by the scores themselves."
        )
    return yy, t


def perfect_uplift_curve(y: Any, treatment: Any) -> Curve:
    """Uplift curve of an oracle ranking of a binary outcome (Devriendt, Guns & Verbeke 2020).

    The oracle puts treated responders first, then control non-responders, then the
    larger of the control responders and treated non-responders' groups (control
    responders first when they outnumber treated non-responders), then the rest.
    """
    yy, t = _binary_inputs(y, treatment, "perfect_uplift_curve")
    control_responders = np.sum((yy == 1) & (t == 0))
    treated_nonresponders = np.sum((yy == 0) & (t == 1))
    tiebreak = yy if control_responders > treated_nonresponders else t
    return uplift_curve(yy, t, 2.0 * (yy == t) + tiebreak)


def perfect_qini_curve(y: Any, treatment: Any, negative_effect: bool = True) -> Curve:
    """Qini curve of an oracle ranking of a binary outcome (Radcliffe 2007).

    With ``negative_effect=True`` the oracle ranks treated responders first and control
    responders last (the curve rises, stays flat, then falls to its end value). With
    ``False`` it is scikit-uplift's optimum without negative effects: the three points
    ``(0, 0), (q, q), (n, q)`` with ``q = R_T - N_T R_C / N_C`` the overall Qini value.
    """
    if not isinstance(negative_effect, bool):
        raise ParameterError(
            f"perfect_qini_curve: negative_effect={negative_effect!r}; expected True or False."
        )
    yy, t = _binary_inputs(y, treatment, "perfect_qini_curve")
    if negative_effect:
        return qini_curve(yy, t, yy * t - yy * (1 - t))
    n_t = t.sum()
    q = yy[t == 1].sum() - n_t * yy[t == 0].sum() / (t.size - n_t)
    return np.array([0.0, q, float(t.size)]), np.array([0.0, q, q])


def _trapezoid(x: np.ndarray, v: np.ndarray) -> float:
    return float(np.sum(np.diff(x) * (v[1:] + v[:-1]) / 2))


def _normalised_area(actual: Curve, perfect: Curve | None) -> float:
    """``(A - A_random) / (A_perfect - A_random)``; unnormalised when ``perfect`` is None."""
    x, v = actual
    end_x, end_v = (x[-1], v[-1]) if perfect is None else (perfect[0][-1], perfect[1][-1])
    baseline = end_x * end_v / 2
    area = _trapezoid(x, v) - baseline
    if perfect is None:
        return area
    best = _trapezoid(*perfect) - baseline
    if best == 0:
        raise DataError(
            "the perfect curve has no area above the random line (no uplift to find); the "
            "normalised area is undefined. Use normalize=False."
        )
    return area / best


def _area(
    y: Any,
    treatment: Any,
    score: Any,
    qini: bool,
    normalize: bool,
    definition: Any,
    negative_effect: bool,
    propensity: Any,
    mu0: Any,
    mu1: Any,
    where: str,
) -> float:
    if not isinstance(normalize, bool):
        raise ParameterError(f"{where}: normalize={normalize!r}; expected True or False.")
    fn = qini_curve if qini else uplift_curve
    actual = fn(y, treatment, score, definition=definition, propensity=propensity, mu0=mu0, mu1=mu1)
    if definition == "causalml":
        v = actual[1]
        if normalize:
            v = v / abs(v[-1])
        random = np.linspace(v[0], v[-1], v.size).sum() if qini else 0.0
        return float((v.sum() - random) / v.size)
    if not normalize:
        return _normalised_area(actual, None)
    if propensity is not None:
        yy, t, _ = check_uplift_inputs(y, treatment, None, where)
        gamma = dr_scores(yy, t, propensity, mu0, mu1)
        perfect = fn(yy, t, gamma, propensity=propensity, mu0=mu0, mu1=mu1)
    elif qini:
        perfect = perfect_qini_curve(y, treatment, negative_effect)
    else:
        perfect = perfect_uplift_curve(y, treatment)
    return _normalised_area(actual, perfect)


def auuc(
    y: Any,
    treatment: Any,
    score: Any,
    *,
    normalize: bool = True,
    definition: Definition = "sklift",
    propensity: Any = None,
    mu0: Any = None,
    mu1: Any = None,
) -> float:
    """Area under the uplift curve.

    ``definition="sklift"``: ``(A - A_random) / (A_perfect - A_random)`` with trapezoid
    areas, equal to ``sklift.metrics.uplift_auc_score`` (binary outcome); with
    ``normalize=False`` the raw area between the curve and the random line (any outcome).
    ``definition="causalml"``: CausalML's ``auuc_score(..., normalize=normalize)``, the
    mean of the per-unit gain curve. See the module docstring for the differences.
    """
    return _area(
        y, treatment, score, False, normalize, definition, True, propensity, mu0, mu1, "auuc"
    )


def qini_coefficient(
    y: Any,
    treatment: Any,
    score: Any,
    *,
    normalize: bool = True,
    negative_effect: bool = True,
    definition: Definition = "sklift",
    propensity: Any = None,
    mu0: Any = None,
    mu1: Any = None,
) -> float:
    """Area between the Qini curve and the random line (Radcliffe 2007's Qini coefficient).

    ``definition="sklift"``: normalised by the perfect Qini curve's area, equal to
    ``sklift.metrics.qini_auc_score(..., negative_effect=negative_effect)``.
    ``definition="causalml"``: CausalML's ``qini_score(..., normalize=normalize)``.
    """
    return _area(
        y,
        treatment,
        score,
        True,
        normalize,
        definition,
        negative_effect,
        propensity,
        mu0,
        mu1,
        "qini_coefficient",
    )


def _k_count(k: Any, n: int, where: str) -> tuple[int, bool]:
    """``(count, is_share)`` from a share in (0, 1) or a count in [1, n)."""
    if isinstance(k, (bool, np.bool_)):
        raise ParameterError(f"{where}: k={k!r}; expected a share in (0, 1) or a count.")
    if isinstance(k, (int, np.integer)):
        if not 0 < k < n:
            raise ParameterError(f"{where}: k={k} must be a count between 1 and {n - 1}.")
        return int(k), False
    if isinstance(k, (float, np.floating)) and 0 < k < 1:
        return int(n * k), True
    raise ParameterError(f"{where}: k={k!r}; expected a share in (0, 1) or a count.")


def uplift_at_k(
    y: Any,
    treatment: Any,
    score: Any,
    k: float | int = 0.3,
    strategy: Literal["overall", "by_group"] = "overall",
) -> float:
    """Difference of the arms' mean outcomes among the top-``k`` units by score.

    ``k``: a share in (0, 1) or a count. ``strategy="overall"`` takes the first
    ``int(k * n)`` units overall and compares their treated and control means;
    ``"by_group"`` takes the first ``int(k * n_T)`` treated and ``int(k * n_C)`` control
    units separately (a count ``k`` means ``k`` of each). Equals
    ``sklift.metrics.uplift_at_k``; an empty arm in the top group is refused.
    """
    where = "uplift_at_k"
    yy, t, s = check_uplift_inputs(y, treatment, score, where)
    assert s is not None
    if strategy not in ("overall", "by_group"):
        raise ParameterError(f"{where}: strategy={strategy!r}; expected 'overall' or 'by_group'.")
    count, is_share = _k_count(k, t.size, where)
    order = descending_order(s)
    ys, ts = yy[order], t[order]
    if strategy == "overall":
        top_y, top_t = ys[:count], ts[:count]
        y1, y0 = top_y[top_t == 1], top_y[top_t == 0]
    else:
        n1 = int(t.sum() * k) if is_share else count
        n0 = int((t.size - t.sum()) * k) if is_share else count
        if n1 > t.sum() or n0 > t.size - t.sum():
            raise ParameterError(
                f"{where}: k={k} asks for more units than an arm has ({int(t.sum())} "
                f"treated, {int(t.size - t.sum())} control); use a smaller k."
            )
        y1, y0 = ys[ts == 1][:n1], ys[ts == 0][:n0]
    if y1.size == 0 or y0.size == 0:
        raise DataError(
            f"{where}: the top group (k={k}) has {y1.size} treated and {y0.size} control "
            "units; an arm is empty, so the uplift is undefined. Use a larger k."
        )
    return float(y1.mean() - y0.mean())
