"""Inference for synthetic control: placebos, leave-one-out and conformal tests.

* In-space placebos (Abadie, Diamond & Hainmueller 2010, JASA, section 4.2; Abadie
  2021, JEL, section 4): every donor takes the treated unit's place in turn. The
  permutation p-value is the rank of the treated unit's post/pre RMSPE ratio among
  all units, ``p = #{j : r_j >= r_1} / (J + 1)``; placebos fitting the pre-period
  more than ``k`` times worse (in RMSPE) than the treated unit can be excluded (ADH
  2010 use MSPE cut-offs of 20, 5 and 2, i.e. RMSPE ratios of sqrt(20), ...).
* In-time placebos: the same design refitted on the pre-period only, with a fake
  treatment start; a large "effect" there questions the design.
* Leave-one-out donors (Abadie, Diamond & Hainmueller 2015, AJPS, section 4.3):
  refit with each donor of positive weight removed.
* Conformal inference (Chernozhukov, Wuthrich & Zhu 2021, JASA 116(536)): under the
  sharp null ``H0: alpha_t = theta_t`` for the post-periods, the outcome-only
  synthetic control is refitted on all periods with the treated post outcomes
  ``Y_1t - theta_t``; the residuals ``u_t`` are exchangeable (i.i.d.) or
  stationary and weakly dependent, so permuting them in time gives the p-value of
  ``S_q(u) = (T*^{-1/2} sum_{t > T0} |u_t|^q)^{1/q}``:
  ``p = T^{-1} sum_pi 1{S_q(u_pi) >= S_q(u)}`` over the ``T`` moving-block
  (cyclic shift) permutations or over random permutations. Confidence sets invert
  the test over a grid of ``theta`` (constant effect over the post-period, or one
  period at a time), refined at its edges by bisection.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from paribus._core.parallel import run_tasks
from paribus._core.params import check_level
from paribus.designs.synth.adh import SCFit, SynthDesign, WeightSpec, simplex_lstsq, solve_weights
from paribus.errors import DataError, ParameterError

__all__ = [
    "ConformalInterval",
    "LeaveOneOutResult",
    "PlaceboResult",
    "conformal_att",
    "conformal_intervals",
    "conformal_pvalue",
    "in_time_placebo",
    "leave_one_out",
    "placebo_test",
]


# -- in-space placebos ----------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceboResult:
    """In-space placebo study.

    ``table`` has one row per unit (the treated unit first) with ``pre_rmspe``,
    ``post_rmspe``, ``ratio``, ``att`` and ``included``; ``gaps`` is the (time x unit)
    table of gaps; ``p_value`` is the RMSPE-ratio rank p-value among included units.
    """

    table: pd.DataFrame
    gaps: pd.DataFrame
    p_value: float
    treated: str
    treatment_start: Any


def _gap_summary(gap: np.ndarray, pre: np.ndarray) -> tuple[float, float, float, float]:
    pre_r = float(np.sqrt(np.mean(gap[pre] ** 2)))
    post_r = float(np.sqrt(np.mean(gap[~pre] ** 2)))
    ratio = post_r / pre_r if pre_r > 0 else math.inf
    return pre_r, post_r, ratio, float(gap[~pre].mean())


def _placebo_gap(spec: WeightSpec, design: SynthDesign) -> np.ndarray:
    fit = solve_weights(design, spec)
    return np.asarray(design.panel.y1 - fit.synthetic)


def placebo_test(
    model: Any,
    *,
    exclude_above: float | None = None,
    n_jobs: int | None = None,
    show_progress: bool | None = None,
) -> PlaceboResult:
    """In-space placebo permutation test of a fitted :class:`SyntheticControl`.

    Parameters
    ----------
    model : SyntheticControl
        Fitted estimator; its settings are reused for every placebo.
    exclude_above : float, optional
        Drop placebos whose pre-period RMSPE exceeds ``exclude_above`` times the
        treated unit's (ADH 2010, Figures 5-7); None keeps all.
    n_jobs : int, optional
        Workers (None: the estimator's ``n_jobs``, then the session setting; serial
        when the refits need no outer search over V, as each then takes ~1 ms).
    """
    if exclude_above is not None and not (
        isinstance(exclude_above, (int, float)) and exclude_above >= 1
    ):
        raise ParameterError(
            f"placebo_test: exclude_above={exclude_above!r} is invalid; expected None or a "
            "number >= 1 (a multiple of the treated unit's pre-period RMSPE)."
        )
    design: SynthDesign = model.design_
    panel = design.panel
    tasks = [(model.spec_, design.as_treated(d)) for d in panel.donors]
    jobs = _jobs(model, n_jobs, design)
    placebo = run_tasks(
        _placebo_gap, tasks, n_jobs=jobs, desc="placebos", show_progress=show_progress
    )
    gaps = np.column_stack([model.gaps_.to_numpy(), *placebo])
    names = [panel.treated, *panel.donors]
    rows = [_gap_summary(gaps[:, k], panel.pre) for k in range(gaps.shape[1])]
    table = pd.DataFrame(rows, index=pd.Index(names, name="unit"))
    table.columns = ["pre_rmspe", "post_rmspe", "ratio", "att"]
    cut = math.inf if exclude_above is None else exclude_above * table["pre_rmspe"].iloc[0]
    table["included"] = table["pre_rmspe"] <= cut
    table.loc[panel.treated, "included"] = True
    ratios = table.loc[table["included"], "ratio"].to_numpy()
    p = float(np.mean(ratios >= table["ratio"].iloc[0] * (1 - 1e-12)))
    frame = pd.DataFrame(gaps, index=pd.Index(panel.times, name="time"), columns=names)
    return PlaceboResult(table, frame, p, panel.treated, panel.treatment_start)


# -- in-time placebo and leave-one-out -------------------------------------------------------


def in_time_placebo(model: Any, data: Any, *, fake_start: Any, **overrides: Any) -> Any:
    """Refit ``model``'s design on the pre-period only with a fake treatment start.

    The data are cut at the real treatment start, so the "post" period of the placebo
    is untreated; ``overrides`` replace ``fit`` arguments (e.g. predictor periods,
    which must lie before ``fake_start``). Returns the fitted placebo estimator;
    its ``result_.estimate`` should be near zero.
    """
    params = dict(model.fit_params_)
    real = params["treatment_start"]
    if not fake_start < real:
        raise ParameterError(
            f"in_time_placebo: fake_start={fake_start!r} must precede the real treatment "
            f"start {real!r}."
        )
    params.update(overrides)
    params["treatment_start"] = fake_start
    frame = pd.DataFrame(data) if not isinstance(data, pd.DataFrame) else data
    cut = frame[frame[params["time"]] < real]
    placebo = clone(model).set_params(inference=None)
    return placebo.fit(cut, **params)


@dataclass(frozen=True)
class LeaveOneOutResult:
    """Refits without each donor: ``table`` (att, pre_rmspe per dropped donor) and the
    (time x dropped donor) ``synthetic`` paths."""

    table: pd.DataFrame
    synthetic: pd.DataFrame


def _refit(spec: WeightSpec, design: SynthDesign) -> SCFit:
    return solve_weights(design, spec)


def leave_one_out(
    model: Any,
    *,
    donors: Sequence[str] | None = None,
    n_jobs: int | None = None,
    show_progress: bool | None = None,
) -> LeaveOneOutResult:
    """Leave-one-out donor robustness (ADH 2015): refit without each donor in turn.

    ``donors`` defaults to the donors with positive weight.
    """
    design: SynthDesign = model.design_
    panel = design.panel
    if donors is None:
        donors = [d for d, w in model.weights_.items() if w > 1e-6]
    unknown = [d for d in donors if d not in panel.donors]
    if unknown:
        raise DataError(f"leave_one_out: donors {unknown} are not in the donor pool.")
    if len(panel.donors) - 1 < 2:
        raise DataError("leave_one_out: needs at least 3 donors to drop one.")
    tasks = [(model.spec_, design.without_donor(d)) for d in donors]
    jobs = _jobs(model, n_jobs, design)
    fits = run_tasks(_refit, tasks, n_jobs=jobs, desc="leave-one-out", show_progress=show_progress)
    rows = []
    for fit in fits:
        pre_r, _, _, att = _gap_summary(panel.y1 - fit.synthetic, panel.pre)
        rows.append((att, pre_r))
    table = pd.DataFrame(rows, index=pd.Index(list(donors), name="dropped"))
    table.columns = ["att", "pre_rmspe"]
    paths = pd.DataFrame(
        np.column_stack([f.synthetic for f in fits]),
        index=pd.Index(panel.times, name="time"),
        columns=list(donors),
    )
    return LeaveOneOutResult(table, paths)


# -- conformal inference --------------------------------------------------------------------


def _statistic(u: np.ndarray, n_post: int, q: float) -> np.ndarray:
    """S_q of the last ``n_post`` rows of every column of ``u`` (T x n_perm)."""
    tail = np.abs(u[-n_post:])
    return (np.sum(tail**q, axis=0) / np.sqrt(n_post)) ** (1.0 / q)


def _permutations(t: int, kind: str, n_perm: int, seed: int | None) -> np.ndarray:
    """Index arrays (t x n) of the moving-block shifts or random permutations."""
    if kind == "moving-block":
        return (np.arange(t)[:, None] + np.arange(t)[None, :]) % t
    rng = np.random.default_rng(seed)
    perms = [np.arange(t)] + [rng.permutation(t) for _ in range(n_perm)]
    return np.column_stack(perms)


def conformal_pvalue(
    y1: np.ndarray,
    y0: np.ndarray,
    n_post: int,
    theta: float | np.ndarray,
    *,
    q: float = 1.0,
    permutation: str = "moving-block",
    n_permutations: int = 999,
    random_state: int | None = None,
) -> float:
    """p-value of the sharp null ``alpha_t = theta_t`` for the last ``n_post`` periods.

    ``y1`` (T,) and ``y0`` (T, J) hold the pre-periods then the tested post-periods.
    The null-imposed outcome-only synthetic control is fitted on all T periods.
    """
    y = np.array(y1, dtype=float)
    y[-n_post:] = y[-n_post:] - theta
    w = simplex_lstsq(y0, y)
    u = y - y0 @ w
    perms = _permutations(y.size, permutation, n_permutations, random_state)
    stats = _statistic(u[perms], n_post, q)
    return float(np.mean(stats >= stats[0] * (1 - 1e-12)))


@dataclass(frozen=True)
class ConformalInterval:
    """A conformal confidence interval (test inversion) and the p-value of theta = 0."""

    estimate: float
    ci_lower: float
    ci_upper: float
    p_value: float
    level: float
    q: float


def _invert(
    pvalue: Callable[[float], float], center: float, scale: float, alpha: float, n_grid: int
) -> tuple[float, float]:
    """Hull of {theta : p(theta) > alpha} on a grid, widened until closed, edges bisected."""
    for _ in range(8):
        grid = center + np.linspace(-scale, scale, n_grid)
        accept = np.array([pvalue(t) > alpha + 1e-9 for t in grid])
        if not accept.any():
            return math.nan, math.nan
        if not (accept[0] or accept[-1]):
            break
        scale *= 3.0
    else:
        return -math.inf, math.inf
    idx = np.flatnonzero(accept)

    def edge(inside: float, outside: float) -> float:
        for _ in range(30):
            mid = 0.5 * (inside + outside)
            if pvalue(mid) > alpha + 1e-9:
                inside = mid
            else:
                outside = mid
        return inside

    lower = edge(float(grid[idx[0]]), float(grid[idx[0] - 1]))
    return lower, edge(float(grid[idx[-1]]), float(grid[idx[-1] + 1]))


def _seed(model: Any) -> int:
    """One seed for every p-value of an inversion, so i.i.d. permutations stay fixed."""
    root = np.random.SeedSequence(model.random_state)
    return int(root.generate_state(1)[0])


def _jobs(model: Any, n_jobs: int | None, design: SynthDesign) -> int | None:
    """Workers for refits: serial when no outer search makes each refit cheap."""
    jobs = n_jobs if n_jobs is not None else model.n_jobs
    cheap = design.train is None and (
        design.panel.outcome_only or not isinstance(model.spec_.v, str) or model.spec_.v == "equal"
    )
    return 1 if jobs is None and cheap else jobs


def _conformal_setup(model: Any, level: float, q: float, permutation: str) -> tuple[Any, float]:
    level = check_level(level)
    if not (isinstance(q, (int, float)) and q > 0):
        raise ParameterError(f"conformal: q={q!r} is invalid; expected a positive number (1 or 2).")
    if permutation not in ("moving-block", "iid"):
        raise ParameterError(
            f"conformal: permutation={permutation!r} is unknown; expected 'moving-block' or 'iid'."
        )
    return model.design_.panel, 1.0 - level


def conformal_att(
    model: Any,
    *,
    level: float = 0.95,
    q: float = 1.0,
    permutation: str = "moving-block",
    n_permutations: int = 999,
    n_grid: int = 41,
) -> ConformalInterval:
    """Conformal interval for a constant post-period effect (CWZ 2021, section 3).

    The set of ``theta`` for which ``H0: alpha_t = theta`` for every post-period is
    not rejected at ``1 - level``; under a constant effect it covers the ATT.
    """
    panel, alpha = _conformal_setup(model, level, q, permutation)
    n_post = int((~panel.pre).sum())
    seed = _seed(model)

    def p(theta: float) -> float:
        return conformal_pvalue(
            panel.y1,
            panel.y0,
            n_post,
            theta,
            q=q,
            permutation=permutation,
            n_permutations=n_permutations,
            random_state=seed,
        )

    gaps = model.gaps_.to_numpy()
    center = float(gaps[~panel.pre].mean())
    scale = 4.0 * (model.pre_rmspe_ + float(np.std(gaps[~panel.pre]))) + 1e-8 * abs(center) + 1e-12
    lo, hi = _invert(p, center, scale, alpha, n_grid)
    return ConformalInterval(center, lo, hi, p(0.0), level, q)


def conformal_intervals(
    model: Any,
    *,
    level: float = 0.95,
    q: float = 1.0,
    permutation: str = "moving-block",
    n_permutations: int = 999,
    n_grid: int = 41,
) -> pd.DataFrame:
    """Per-period conformal intervals for ``alpha_t`` (CWZ 2021, section 3.3).

    For each post-period ``t`` the test uses the pre-periods plus ``t`` alone. Returns
    a frame indexed by post-period with ``gap``, ``ci_lower``, ``ci_upper`` and the
    ``p_value`` of ``alpha_t = 0``.
    """
    panel, alpha = _conformal_setup(model, level, q, permutation)
    pre = np.flatnonzero(panel.pre)
    gaps = model.gaps_.to_numpy()
    seed = _seed(model)
    rows = []
    for t in np.flatnonzero(~panel.pre):
        keep = np.append(pre, t)
        y1, y0 = panel.y1[keep], panel.y0[keep]

        def p(theta: float, y1: np.ndarray = y1, y0: np.ndarray = y0) -> float:
            return conformal_pvalue(
                y1,
                y0,
                1,
                theta,
                q=q,
                permutation=permutation,
                n_permutations=n_permutations,
                random_state=seed,
            )

        scale = 4.0 * model.pre_rmspe_ + 0.5 * abs(gaps[t]) + 1e-12
        lo, hi = _invert(p, float(gaps[t]), scale, alpha, n_grid)
        rows.append((float(gaps[t]), lo, hi, p(0.0)))
    frame = pd.DataFrame(rows, index=pd.Index(panel.times[~panel.pre], name="time"))
    frame.columns = ["gap", "ci_lower", "ci_upper", "p_value"]
    return frame
