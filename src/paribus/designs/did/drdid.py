"""Doubly robust, IPW and outcome-regression DiD with covariates (Sant'Anna & Zhao 2020).

The ATT of a two-period DiD under conditional parallel trends, for panel data
(``dy = Y_post - Y_pre`` per unit) and for repeated cross-sections (``y`` with a
``post`` indicator), following Sant'Anna & Zhao (2020, *J. Econometrics* 219(1),
101-122). With a logit propensity ``p(X)`` (exact ML, :class:`paribus._core.logit.Logit`)
and linear outcome regressions ``mu_{d,t}(X)`` fitted by least squares:

* panel, ``"dr"`` (eq. 3.1): ``E[(w1(D) - w0(D, X)) (dy - mu_{0,Delta}(X))]`` with
  ``w1 = D / E[D]`` and ``w0 = p(X)(1-D)/(1-p(X))`` normalised to mean one;
* panel, ``"ipw"``: the same with ``mu = 0`` (normalised Abadie 2005);
  ``"or"``: ``E[D (dy - mu_{0,Delta}(X))] / E[D]`` (Heckman, Ichimura & Todd 1997);
* repeated cross-sections, ``"dr"``: the locally efficient ``tau^{dr,rc}_2`` (eq. 3.4),
  which adds to the IPW-weighted contrast of ``y - mu_{0,Y}(T, X)`` the terms
  ``E[w_D (mu_{1,t} - mu_{0,t})] - E[w_{1,t} (mu_{1,t} - mu_{0,t})]`` for ``t = 1, 0``;
  ``"ipw"`` the normalised Abadie (2005) estimator, ``"or"``
  ``E[D T y]/E[D T] - E[D(1-T) y]/E[D(1-T)] - E[D (mu_{0,1} - mu_{0,0})] / E[D]``.

Every estimator is a signed sum of Hajek ratios ``R = E[w a] / E[w]`` whose weights
may depend on the propensity coefficients ``gamma`` and whose values are linear in the
outcome-regression coefficients ``beta_m``. Its influence function is therefore
``w (a - R) / E[w] + dR/dgamma' IF_gamma + sum_m dR/dbeta_m' IF_beta_m`` with
``dR/dgamma = E[w (a - R) X] / E[w]`` (the odds ``p/(1-p) = exp(X'gamma)``) and
``dR/dbeta_m = E[w c_m X] / E[w]``, which is the estimation-effect correction of the
paper's Theorems 3.1 and 3.3. The standard error is ``sqrt(sum IF^2) / n`` (R's
``DRDID`` uses ``sd(IF)/sqrt(n)``, larger by ``sqrt(n/(n-1))``), or cluster-robust.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from paribus._core.logit import Logit
from paribus.errors import DataError, OverlapError

__all__ = ["DRDiDFit", "drdid_panel", "drdid_rc"]

ESTIMATORS = ("dr", "ipw", "or")


@dataclass(frozen=True)
class DRDiDFit:
    """ATT estimate, its influence values (mean zero, one per row) and diagnostics."""

    att: float
    influence: np.ndarray
    diagnostics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class _Term:
    sign: float
    w: np.ndarray  # Hajek weights (sample weight included)
    a: np.ndarray  # value averaged
    ps: bool = False  # weights proportional to the propensity odds
    ors: tuple[tuple[str, np.ndarray], ...] = ()  # (model, c): a contains c * X'beta_model


def _design(X: np.ndarray | None, n: int) -> np.ndarray:
    ones = np.ones((n, 1))
    return ones if X is None or X.shape[1] == 0 else np.column_stack([ones, X])


def _propensity(X: np.ndarray, d: np.ndarray, sw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fitted logit propensities and the influence values of its coefficients."""
    model = Logit().fit(X[:, 1:], d, sample_weight=sw)
    p = model.predict_proba(X[:, 1:])[:, 1]
    if np.max(p[d == 0], initial=0.0) > 1 - 1e-6:
        raise OverlapError(
            "some control units have an estimated propensity of 1, so their odds weights "
            "p/(1-p) explode (no overlap); trim the covariate range or drop the covariates "
            "that separate treated from control units."
        )
    hess = (X * (sw * p * (1 - p))[:, None]).T @ X / d.size
    return p, (X * (sw * (d - p))[:, None]) @ np.linalg.inv(hess)


def _outcome_model(
    X: np.ndarray, y: np.ndarray, sw: np.ndarray, subset: np.ndarray, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Least squares of ``y`` on ``X`` within ``subset``: coefficients and influence values."""
    ws = sw * subset
    if subset.sum() <= X.shape[1]:
        raise DataError(
            f"the outcome regression for {name} has {int(subset.sum())} rows for "
            f"{X.shape[1]} coefficients; use fewer covariates or more data."
        )
    gram = (X * ws[:, None]).T @ X / y.size
    if np.linalg.cond(gram) > 1e12:
        raise DataError(f"the covariates are collinear within {name}; drop redundant covariates.")
    beta = np.linalg.solve(gram, (X * ws[:, None]).T @ y / y.size)
    resid = y - X @ beta
    return beta, (X * (ws * resid)[:, None]) @ np.linalg.inv(gram)


def _combine(
    terms: list[_Term],
    X: np.ndarray,
    ps_if: np.ndarray | None,
    or_fits: dict[str, tuple[np.ndarray, np.ndarray]],
) -> tuple[float, np.ndarray]:
    att = 0.0
    phi = np.zeros(X.shape[0])
    for t in terms:
        mw = t.w.mean()
        if mw <= 0:
            raise DataError("a comparison cell (group x period) is empty; DiD needs all four.")
        r = float(np.sum(t.w * t.a) / np.sum(t.w))
        att += t.sign * r
        psi = t.w * (t.a - r) / mw
        if t.ps and ps_if is not None:
            psi = psi + ps_if @ ((X * (t.w * (t.a - r))[:, None]).mean(axis=0) / mw)
        for model, c in t.ors:
            psi = psi + or_fits[model][1] @ ((X * (t.w * c)[:, None]).mean(axis=0) / mw)
        phi += t.sign * psi
    return att, phi


def _weights(sw: np.ndarray | None, n: int) -> np.ndarray:
    return np.ones(n) if sw is None else np.asarray(sw, dtype=float) / np.mean(sw)


def drdid_panel(
    dy: np.ndarray,
    d: np.ndarray,
    X: np.ndarray | None,
    weights: np.ndarray | None = None,
    estimator: str = "dr",
) -> DRDiDFit:
    """ATT from panel data: ``dy`` the outcome change, ``d`` the 0/1 group (Sant'Anna & Zhao 2020).

    ``X`` holds pre-treatment covariates without an intercept (or ``None``).
    """
    n = dy.size
    sw = _weights(weights, n)
    Xd = _design(X, n)
    or_fits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    mu = np.zeros(n)
    ors: tuple[tuple[str, np.ndarray], ...] = ()
    if estimator in ("dr", "or"):
        or_fits["delta"] = _outcome_model(Xd, dy, sw, d == 0, "the control group")
        mu = Xd @ or_fits["delta"][0]
        ors = (("delta", -np.ones(n)),)
    terms = [_Term(1.0, sw * d, dy - mu, ors=ors)]
    ps_if = None
    if estimator in ("dr", "ipw"):
        p, ps_if = _propensity(Xd, d, sw)
        terms.append(_Term(-1.0, sw * (1 - d) * p / (1 - p), dy - mu, ps=True, ors=ors))
    att, phi = _combine(terms, Xd, ps_if, or_fits)
    diagnostics = {}
    if ps_if is not None:
        diagnostics["propensity_range"] = [float(p.min()), float(p.max())]
    return DRDiDFit(att=att, influence=phi, diagnostics=diagnostics)


def drdid_rc(
    y: np.ndarray,
    d: np.ndarray,
    post: np.ndarray,
    X: np.ndarray | None,
    weights: np.ndarray | None = None,
    estimator: str = "dr",
) -> DRDiDFit:
    """ATT from repeated cross-sections: ``y``, group ``d`` and period ``post`` (0/1 each)."""
    n = y.size
    sw = _weights(weights, n)
    Xd = _design(X, n)
    cells = {(g, t): (d == g) & (post == t) for g in (0, 1) for t in (0, 1)}
    or_fits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    need = {"dr": [(0, 1), (0, 0), (1, 1), (1, 0)], "or": [(0, 1), (0, 0)], "ipw": []}[estimator]
    mus = {}
    for g, t in need:
        name = f"mu{g}{t}"
        or_fits[name] = _outcome_model(Xd, y, sw, cells[g, t], f"group {g}, period {t}")
        mus[g, t] = Xd @ or_fits[name][0]
    one = np.ones(n)
    if estimator == "or":
        terms = [
            _Term(1.0, sw * d * post, y),
            _Term(-1.0, sw * d * (1 - post), y),
            _Term(-1.0, sw * d, mus[0, 1] - mus[0, 0], ors=(("mu01", one), ("mu00", -one))),
        ]
        att, phi = _combine(terms, Xd, None, or_fits)
        return DRDiDFit(att=att, influence=phi)
    p, ps_if = _propensity(Xd, d, sw)
    odds = p / (1 - p)
    r_ors: tuple[tuple[str, np.ndarray], ...] = ()
    resid = y
    if estimator == "dr":
        resid = y - post * mus[0, 1] - (1 - post) * mus[0, 0]
        r_ors = (("mu01", -post), ("mu00", -(1 - post)))
    terms = [
        _Term(1.0, sw * d * post, resid, ors=r_ors),
        _Term(-1.0, sw * d * (1 - post), resid, ors=r_ors),
        _Term(-1.0, sw * (1 - d) * post * odds, resid, ps=True, ors=r_ors),
        _Term(1.0, sw * (1 - d) * (1 - post) * odds, resid, ps=True, ors=r_ors),
    ]
    if estimator == "dr":
        for t, w_t in ((1, post), (0, 1 - post)):
            gap = mus[1, t] - mus[0, t]
            g_ors = ((f"mu1{t}", one), (f"mu0{t}", -one))
            sign = 1.0 if t == 1 else -1.0
            terms.append(_Term(sign, sw * d, gap, ors=g_ors))
            terms.append(_Term(-sign, sw * d * w_t, gap, ors=g_ors))
    att, phi = _combine(terms, Xd, ps_if, or_fits)
    return DRDiDFit(
        att=att, influence=phi, diagnostics={"propensity_range": [float(p.min()), float(p.max())]}
    )
