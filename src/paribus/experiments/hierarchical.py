"""Partial pooling of segment treatment effects: the normal-normal hierarchical model.

Each segment ``s`` of an A/B test gives a difference in means ``y_s`` with standard error
``se_s`` (:func:`paribus.experiments._contrast.mean_contrast`, Welch variance). These feed
the "eight schools" model (Rubin 1981, *J. Educ. Stat.* 6, 377-401; Gelman et al.,
*Bayesian Data Analysis*, 3rd ed., section 5.5)::

    y_s | theta_s ~ N(theta_s, se_s^2)          se_s treated as known
    theta_s = mu + tau z_s,  z_s ~ N(0, 1)      non-centred: theta_s ~ N(mu, tau^2)
    mu ~ N(0, prior_scale^2)
    tau ~ half-Cauchy(0, prior_scale)           (Gelman 2006) or half-normal(prior_scale)

The non-centred form keeps NUTS away from the funnel between ``tau`` and ``theta``
(Betancourt & Girolami 2015). The posterior mean of ``theta_s`` shrinks ``y_s`` towards
``mu`` by about ``se_s^2 / (se_s^2 + tau^2)``. ``tau=`` fixes the between-segment sd:
``tau=0`` is complete pooling (one common effect).

Sampling uses NumPyro's NUTS (Hoffman & Gelman 2014; Phan et al. 2019), an optional
dependency: ``pip install "paribus[bayes]"``. Measured with ``bench/bench_bayes_backend.py``
(eight schools, 4 chains x 1000 draws, 2 shared cores, issue 9): NumPyro 0.22 installs
853 MB in 17 s, imports in 1.4-1.9 s and samples in 2.6-3.9 s in a fresh process;
PyMC 5.28 installs 699 MB in 19 s, imports in 1.7-2.1 s and samples in 9.5 s on a machine
whose PyTensor C cache is empty (2.1 s once warm). NumPyro was chosen for the fresh-process
cost every CI run and new environment pays, and because it needs no C compiler.

Model checks (Gelman, Meng & Stern 1996; BDA3 chapter 6): replicated estimates
``y_rep ~ N(theta, se^2)`` under the prior and the posterior, and for each test statistic
``T`` the predictive p-value ``P(T(y_rep) >= T(y))``: the max, min and sd of the segment
estimates, and the chi-square discrepancy ``sum_s (y_s - theta_s)^2 / se_s^2`` (compared
draw by draw, a realised discrepancy). Values below 0.05 or above 0.95 say the model does
not reproduce that feature of the data.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from paribus._core.params import (
    LEVEL,
    NONE,
    RANDOM_STATE,
    Interval,
    Options,
    validate_params,
)
from paribus.data.convert import to_pandas
from paribus.errors import DataError, NotFittedError, SamplingWarning
from paribus.experiments._contrast import mean_contrast
from paribus.results import Effect, EffectTable

__all__ = ["HierarchicalABResult", "HierarchicalABTest"]

TauPrior = Literal["half-cauchy", "half-normal"]
_INSTALL = 'pip install "paribus[bayes]"'
_STATISTICS = ("max", "min", "sd", "chi-square")


def _backend() -> tuple[Any, Any, Any, Any]:
    """``(jax, numpyro, numpyro.distributions, arviz)``, imported on first use."""
    try:
        import arviz
        import jax
        import numpyro
        import numpyro.distributions as dist
    except ImportError as exc:
        raise ImportError(
            f"HierarchicalABTest needs NumPyro and ArviZ ({exc.name} is missing); "
            f"install them with: {_INSTALL}"
        ) from exc
    return jax, numpyro, dist, arviz


def _model(
    se: Any, y: Any = None, *, mu_scale: float, tau_scale: float, tau_prior: str, tau: Any
) -> None:
    """The NumPyro model of the module docstring."""
    _, numpyro, dist, _ = _backend()
    mu = numpyro.sample("mu", dist.Normal(0.0, mu_scale))
    if tau is None:
        prior = dist.HalfCauchy(tau_scale) if tau_prior == "half-cauchy" else None
        tau = numpyro.sample("tau", prior or dist.HalfNormal(tau_scale))
    else:
        tau = numpyro.deterministic("tau", tau)
    with numpyro.plate("segment", se.shape[0]):
        z = numpyro.sample("z", dist.Normal(0.0, 1.0))
        theta = numpyro.deterministic("theta", mu + tau * z)
        numpyro.sample("y", dist.Normal(theta, se), obs=y)


@dataclasses.dataclass(frozen=True)
class _Draws:
    """Posterior (chain, draw[, segment]) and prior (1, draw[, segment]) arrays."""

    posterior: dict[str, np.ndarray]
    prior: dict[str, np.ndarray]
    diverging: np.ndarray


class HierarchicalABResult:
    """A fitted hierarchical model: draws, pooled segment effects and model checks.

    Attributes
    ----------
    idata : arviz.InferenceData
        Groups ``posterior`` (mu, tau, z, theta), ``prior``, ``prior_predictive`` and
        ``posterior_predictive`` (``y``), ``observed_data`` (``y``), ``constant_data``
        (``se``) and ``sample_stats`` (``diverging``).
    raw : EffectTable
        Per-segment difference in means with Welch t intervals (no pooling).
    pooled : EffectTable
        Posterior mean, sd and equal-tailed credible interval of each ``theta_s``
        (``inference="posterior"``; ``p_value`` is ``2 min(P(theta_s > 0),
        P(theta_s < 0))``, a posterior tail probability).
    overall : Effect
        The same for ``mu``, the mean effect across segments.
    level : float
    """

    def __init__(
        self, idata: Any, raw: EffectTable, pooled: EffectTable, overall: Effect, level: float
    ) -> None:
        self.idata = idata
        self.raw = raw
        self.pooled = pooled
        self.overall = overall
        self.level = level

    def _arr(self, group: str, name: str) -> np.ndarray:
        return np.asarray(self.idata[group][name].values, dtype=float)

    def diagnostics(self) -> pd.DataFrame:
        """R-hat, bulk and tail ESS per parameter, and the divergences (``.attrs``).

        Warns with :class:`SamplingWarning` when an R-hat exceeds 1.01 or any transition
        diverged.
        """
        _, _, _, az = _backend()
        names = ["mu", "theta"] + (["tau"] if self._tau_free() else [])
        table = az.summary(self.idata, var_names=names, kind="diagnostics", round_to="none")
        table = table[["ess_bulk", "ess_tail", "r_hat"]]
        divergences = int(self._arr("sample_stats", "diverging").sum())
        table.attrs["divergences"] = divergences
        _warn_sampling(float(table["r_hat"].max()), divergences)
        return table

    def _tau_free(self) -> bool:
        return float(np.ptp(self._arr("posterior", "tau"))) > 0

    def _check(self, group: str, theta: np.ndarray) -> pd.DataFrame:
        y = self._arr("observed_data", "y")
        se = self._arr("constant_data", "se")
        rep = self._arr(group, "y").reshape(-1, y.size)
        theta = theta.reshape(-1, y.size)
        rows = []
        for stat in _STATISTICS:
            if stat == "chi-square":
                t_obs = (((y - theta) / se) ** 2).sum(axis=1)
                t_rep = (((rep - theta) / se) ** 2).sum(axis=1)
            else:
                t_obs = np.full(rep.shape[0], _statistic(stat, y[None, :])[0])
                t_rep = _statistic(stat, rep)
            rows.append(
                {
                    "statistic": stat,
                    "observed": float(t_obs.mean()),
                    "replicated_mean": float(t_rep.mean()),
                    "p_value": float((t_rep >= t_obs).mean()),
                }
            )
        return pd.DataFrame(rows).set_index("statistic")

    def prior_predictive_check(self) -> pd.DataFrame:
        """Prior predictive p-values ``P(T(y_rep) >= T(y))`` (module docstring)."""
        return self._check("prior_predictive", self._arr("prior", "theta"))

    def posterior_predictive_check(self) -> pd.DataFrame:
        """Posterior predictive p-values ``P(T(y_rep) >= T(y) | y)`` (module docstring)."""
        return self._check("posterior_predictive", self._arr("posterior", "theta"))

    def plot(self) -> Any:
        """Forest plot of raw vs pooled effects and the posterior predictive sd check.

        Returns the matplotlib Figure (two axes).
        """
        import matplotlib.pyplot as plt

        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 0.5 * len(self.raw) + 2))
        pos = np.arange(len(self.raw))
        for offset, table, label in ((0.15, self.raw, "raw"), (-0.15, self.pooled, "pooled")):
            est = np.array([e.estimate for e in table])
            lo = est - np.array([e.ci_lower for e in table])
            hi = np.array([e.ci_upper for e in table]) - est
            ax.errorbar(est, pos + offset, xerr=[lo, hi], fmt="o", capsize=3, label=label)
        ax.axvline(self.overall.estimate, color="grey", linestyle="--", label="mu")
        ax.set_yticks(pos, self.raw.labels)
        ax.invert_yaxis()
        ax.set_xlabel(f"effect ({self.level:.0%} intervals)")
        ax.legend()
        y = self._arr("observed_data", "y")
        rep = self._arr("posterior_predictive", "y").reshape(-1, y.size)
        ax2.hist(_statistic("sd", rep), bins=50, color="lightgrey")
        ax2.axvline(_statistic("sd", y[None, :])[0], color="black", label="observed")
        ax2.set_xlabel("sd of segment estimates (posterior predictive)")
        ax2.legend()
        fig.tight_layout()
        return fig


def _statistic(name: str, y: np.ndarray) -> np.ndarray:
    """Row-wise max, min or sd of the segment estimates."""
    if name == "max":
        return y.max(axis=1)
    if name == "min":
        return y.min(axis=1)
    return y.std(axis=1, ddof=1)


def _warn_sampling(r_hat: float, divergences: int) -> None:
    if r_hat > 1.01 or divergences > 0:
        warnings.warn(
            f"MCMC may not have converged: max R-hat = {r_hat:.3f} (want <= 1.01) and "
            f"{divergences} divergent transition(s) (want 0). Increase tune and draws, or "
            "target_accept (e.g. 0.99); many divergences with few segments suggest a more "
            "informative prior on tau (smaller prior_scale, tau_prior='half-normal').",
            SamplingWarning,
            stacklevel=3,
        )


class HierarchicalABTest(BaseEstimator):
    """Bayesian partial pooling of treatment effects across segments (module docstring).

    Parameters
    ----------
    prior_scale : float or None
        Scale of ``mu ~ N(0, prior_scale^2)`` and of the prior on ``tau``. Default: weakly
        informative from the data, ``max(5 rms(se_s), 2 max|y_s|)``.
    tau_prior : {"half-cauchy", "half-normal"}, default "half-cauchy"
    tau : float or None
        Fix the between-segment sd instead of learning it (``0`` is complete pooling).
    draws, tune, chains : int
        NUTS draws kept and warm-up steps per chain; chains run vectorised.
    target_accept : float, default 0.95
        NUTS target acceptance probability (higher: smaller steps, fewer divergences).
    level : float, default 0.95
        Credible level of the pooled intervals.
    random_state : int or None
        Seed of the sampler and the predictive draws.

    Attributes
    ----------
    result_ : HierarchicalABResult
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "prior_scale": [NONE, Interval(0, None, closed="neither")],
        "tau_prior": [Options(("half-cauchy", "half-normal"))],
        "tau": [NONE, Interval(0, None, closed="left")],
        "draws": [Interval(10, None, integer=True)],
        "tune": [Interval(0, None, integer=True)],
        "chains": [Interval(1, None, integer=True)],
        "target_accept": [Interval(0, 1, closed="neither")],
        "level": [LEVEL],
        "random_state": [RANDOM_STATE],
    }

    def __init__(
        self,
        prior_scale: float | None = None,
        tau_prior: TauPrior = "half-cauchy",
        tau: float | None = None,
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 4,
        target_accept: float = 0.95,
        level: float = 0.95,
        random_state: int | None = None,
    ) -> None:
        self.prior_scale = prior_scale
        self.tau_prior = tau_prior
        self.tau = tau
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.target_accept = target_accept
        self.level = level
        self.random_state = random_state

    def __getattr__(self, name: str) -> Any:
        if name.endswith("_") and not name.startswith("_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet: call fit(...) before using {name}."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def fit(self, data: Any, *, treatment: str, outcome: str, segment: str) -> Self:
        """Estimate each segment's difference in means, then pool them.

        ``treatment`` is a 0/1 (or boolean) column, ``outcome`` numeric, ``segment`` any
        labels; each segment needs at least 2 treated and 2 control units.
        """
        validate_params(
            type(self).__name__, self.get_params(deep=False), self._parameter_constraints
        )
        raw = _segment_contrasts(to_pandas(data), treatment, outcome, segment, self.level)
        return self._fit_table(raw)

    def fit_estimates(
        self,
        estimates: Sequence[float],
        std_errors: Sequence[float],
        labels: Sequence[str] | None = None,
    ) -> Self:
        """Pool given per-segment estimates and standard errors (e.g. eight schools)."""
        validate_params(
            type(self).__name__, self.get_params(deep=False), self._parameter_constraints
        )
        y = np.asarray(estimates, dtype=float)
        se = np.asarray(std_errors, dtype=float)
        if y.ndim != 1 or y.shape != se.shape or y.size < 2:
            raise DataError(
                f"estimates and std_errors must be 1-d of the same length >= 2, got shapes "
                f"{y.shape} and {se.shape}."
            )
        if not (np.isfinite(y).all() and np.isfinite(se).all() and (se > 0).all()):
            raise DataError("estimates must be finite and std_errors finite and > 0.")
        names = [str(v) for v in (labels if labels is not None else range(y.size))]
        raw = EffectTable(
            [
                Effect.from_normal(
                    estimand="ATE",
                    estimate=float(e),
                    std_error=float(s),
                    level=self.level,
                    n_obs=0,
                    method="given",
                    inference="normal",
                )
                for e, s in zip(y, se, strict=True)
            ],
            names,
            title="Segment estimates (no pooling)",
        )
        return self._fit_table(raw)

    def _fit_table(self, raw: EffectTable) -> Self:
        y = np.array([e.estimate for e in raw])
        se = np.array([e.std_error for e in raw])
        scale = self.prior_scale
        if scale is None:
            scale = max(5 * math.sqrt(float(np.mean(se**2))), 2 * float(np.abs(y).max()))
        draws = self._sample(y, se, float(scale))
        idata = _inference_data(draws, y, se, raw.labels)
        pooled = EffectTable(
            [
                _posterior_effect(draws.posterior["theta"][..., s], e.n_obs, self.level, e)
                for s, e in enumerate(raw)
            ],
            raw.labels,
            title="Segment effects (partial pooling)",
        )
        overall = _posterior_effect(
            draws.posterior["mu"], sum(e.n_obs for e in raw), self.level, None
        )
        self.result_ = HierarchicalABResult(idata, raw, pooled, overall, float(self.level))
        self.result_.diagnostics()
        return self

    def _sample(self, y: np.ndarray, se: np.ndarray, scale: float) -> _Draws:
        jax, _, _, _ = _backend()
        from numpyro.infer import MCMC, NUTS, Predictive

        seeds = np.random.default_rng(self.random_state).integers(0, 2**31, size=3)
        kw = {"mu_scale": scale, "tau_scale": scale, "tau_prior": self.tau_prior, "tau": self.tau}
        mcmc = MCMC(
            NUTS(_model, target_accept_prob=self.target_accept),
            num_warmup=self.tune,
            num_samples=self.draws,
            num_chains=self.chains,
            chain_method="vectorized",
            progress_bar=False,
        )
        mcmc.run(jax.random.PRNGKey(int(seeds[0])), se, y=y, **kw)
        post = {
            k: np.asarray(v, dtype=float) for k, v in mcmc.get_samples(group_by_chain=True).items()
        }
        div = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["diverging"], dtype=bool)
        flat = {k: v.reshape(-1, *v.shape[2:]) for k, v in post.items()}
        ppc = Predictive(_model, posterior_samples=flat, return_sites=["y"])
        post["y_rep"] = np.asarray(
            ppc(jax.random.PRNGKey(int(seeds[1])), se, **kw)["y"], dtype=float
        ).reshape(self.chains, self.draws, -1)
        prior_draws = Predictive(_model, num_samples=self.chains * self.draws)
        prior = {
            k: np.asarray(v, dtype=float)[None]
            for k, v in prior_draws(jax.random.PRNGKey(int(seeds[2])), se, **kw).items()
        }
        return _Draws(post, prior, div)


def _inference_data(d: _Draws, y: np.ndarray, se: np.ndarray, labels: Sequence[str]) -> Any:
    _, _, _, az = _backend()
    seg = {"z": ["segment"], "theta": ["segment"], "y": ["segment"], "se": ["segment"]}
    params = ("mu", "tau", "z", "theta")
    tau_shape = d.posterior["mu"].shape
    posterior = {
        k: np.broadcast_to(d.posterior[k], tau_shape + d.posterior[k].shape[2:]) for k in params
    }
    prior = {
        k: np.broadcast_to(d.prior[k], d.prior["mu"].shape + d.prior[k].shape[2:]) for k in params
    }
    return az.from_dict(
        posterior=posterior,
        prior=prior,
        posterior_predictive={"y": d.posterior["y_rep"]},
        prior_predictive={"y": d.prior["y"]},
        observed_data={"y": y},
        constant_data={"se": se},
        sample_stats={"diverging": d.diverging},
        coords={"segment": list(labels)},
        dims=seg,
    )


def _posterior_effect(draws: np.ndarray, n_obs: int, level: float, raw: Effect | None) -> Effect:
    flat = np.asarray(draws, dtype=float).ravel()
    lo, hi = np.quantile(flat, [(1 - level) / 2, (1 + level) / 2])
    p_pos = float((flat > 0).mean())
    diag: dict[str, Any] = {"draws": flat.size}
    if raw is not None:
        diag.update(raw_estimate=raw.estimate, raw_std_error=raw.std_error)
    return Effect(
        estimand="ATE",
        estimate=float(flat.mean()),
        std_error=float(flat.std(ddof=1)),
        ci_lower=float(lo),
        ci_upper=float(hi),
        level=level,
        p_value=2 * min(p_pos, 1 - p_pos),
        n_obs=n_obs,
        method="bayes-hierarchical",
        inference="posterior",
        diagnostics=diag,
    )


def _segment_contrasts(
    df: pd.DataFrame, treatment: str, outcome: str, segment: str, level: float
) -> EffectTable:
    for role, col in (("treatment", treatment), ("outcome", outcome), ("segment", segment)):
        if col not in df.columns:
            raise DataError(
                f"{role}={col!r} is not a column of the data; columns are {list(df.columns)}."
            )
    if df[segment].isna().any():
        raise DataError(f"segment column {segment!r} has missing values; drop those rows first.")
    t = pd.to_numeric(df[treatment], errors="coerce").to_numpy(dtype=float)
    if not np.isin(t, (0.0, 1.0)).all():
        raise DataError(
            f"treatment column {treatment!r} must be 0/1 (or boolean), found values "
            f"{pd.unique(df[treatment])[:5].tolist()}; recode it to 1 = treated, 0 = control."
        )
    y = pd.to_numeric(df[outcome], errors="coerce").to_numpy(dtype=float)
    seg = df[segment].to_numpy()
    levels = sorted(pd.unique(seg).tolist(), key=str)
    if len(levels) < 2:
        raise DataError(f"segment column {segment!r} has {len(levels)} level(s); need at least 2.")
    effects = []
    for v in levels:
        m = seg == v
        try:
            c = mean_contrast(y[m & (t == 1)], y[m & (t == 0)])
        except DataError as exc:
            raise DataError(f"segment {v!r} of {segment!r}: {exc}") from exc
        effects.append(c.effect(level=level, diagnostics={"segment": str(v)}))
    return EffectTable(effects, [str(v) for v in levels], title="Segment estimates (no pooling)")
