"""Sample-ratio mismatch: are the arms the size the design said they would be?

A test whose arms do not have the planned sizes is broken before any outcome is
looked at: some units were lost or added in a way that may depend on the arm (bots
filtered in one arm only, a redirect that drops slow browsers, a trigger condition
evaluated after assignment). The check is Pearson's chi-square goodness-of-fit test
(Pearson 1900) of the observed counts ``O_k`` against ``E_k = N pi_k`` with the
planned shares ``pi_k``:

    X^2 = sum_k (O_k - E_k)^2 / E_k  ~  chi^2(K - 1).

A strict threshold (``alpha = 0.001``) is customary because the test runs on every
experiment and a false alarm stops a launch (Fabijan et al. 2019, *Diagnosing
Sample Ratio Mismatch in Online Controlled Experiments*, KDD; Kohavi, Tang & Xu
2020, *Trustworthy Online Controlled Experiments*, ch. 21).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from paribus.errors import DataError, ParameterError

__all__ = ["SRMResult", "srm_test"]

_CAUSES = (
    "bot or fraud filtering that acts differently by arm, an assignment or redirect bug, "
    "triggering or exposure logging that depends on the arm, a ramp-up or arm change "
    "during the test, or data-pipeline losses in one arm"
)


@dataclasses.dataclass(frozen=True)
class SRMResult:
    """Chi-square goodness-of-fit test of the arm counts against the planned shares.

    Attributes
    ----------
    statistic, df, p_value : float
        Pearson's ``X^2``, its degrees of freedom ``K - 1`` and p-value.
    alpha : float
        The alarm threshold.
    alarm : bool
        ``p_value < alpha``: the arms are not the planned sizes.
    arms : tuple of str
        Arm labels (the mapping's keys, or ``"0"``, ``"1"``, ... for a sequence).
    observed, expected : tuple of float
        Observed counts and their expectations ``N pi_k`` under the design.
    message : str
        Plain-language verdict naming the arm furthest from plan and likely causes.
    """

    statistic: float
    df: int
    p_value: float
    alpha: float
    alarm: bool
    arms: tuple[str, ...]
    observed: tuple[float, ...]
    expected: tuple[float, ...]
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the fields."""
        out = dataclasses.asdict(self)
        out["arms"], out["observed"], out["expected"] = (
            list(self.arms),
            list(self.observed),
            list(self.expected),
        )
        return out

    def __str__(self) -> str:
        lines = [
            f"Sample-ratio mismatch test: chi2({self.df}) = {self.statistic:.4g}, "
            f"p = {self.p_value:.4g} (alarm below {self.alpha:g})",
            f"{'arm':>12} {'observed':>12} {'expected':>12} {'ratio':>8}",
        ]
        for arm, o, e in zip(self.arms, self.observed, self.expected, strict=True):
            lines.append(f"{arm:>12} {o:>12.0f} {e:>12.1f} {o / e:>8.4f}")
        lines.append(self.message)
        return "\n".join(lines)

    __repr__ = __str__


def _as_arrays(
    counts: Sequence[float] | Mapping[Any, float],
    ratios: Sequence[float] | Mapping[Any, float] | None,
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    if isinstance(counts, Mapping):
        keys = list(counts)
        observed = [counts[k] for k in keys]
        if isinstance(ratios, Mapping):
            if set(ratios) != set(keys):
                raise DataError(
                    f"srm_test: ratios names arms {sorted(map(str, ratios))} but counts names "
                    f"{sorted(map(str, keys))}; give one planned share per arm."
                )
            planned: Any = [ratios[k] for k in keys]
        else:
            planned = ratios
        arms = tuple(str(k) for k in keys)
    else:
        if isinstance(ratios, Mapping):
            raise DataError(
                "srm_test: ratios is a mapping but counts is a sequence; pass both as "
                "mappings arm -> value, or both as sequences in the same order."
            )
        observed, planned = list(counts), ratios
        arms = tuple(str(k) for k in range(len(observed)))
    try:
        obs = np.asarray(observed, dtype=float)
        shares = np.ones_like(obs) if planned is None else np.asarray(planned, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"srm_test: counts and ratios must be numbers ({exc}).") from None
    return arms, obs, shares


def _check(obs: np.ndarray, shares: np.ndarray) -> None:
    if obs.ndim != 1 or obs.size < 2:
        raise DataError(
            f"srm_test: counts must hold one count per arm, at least 2 arms; got {obs.size}."
        )
    if shares.shape != obs.shape:
        raise DataError(
            f"srm_test: ratios has {shares.size} entries but counts has {obs.size}; "
            "give one planned share per arm."
        )
    if not np.isfinite(obs).all() or (obs < 0).any():
        raise DataError(
            f"srm_test: counts must be finite and non-negative, got {obs.tolist()}; "
            "pass the number of units assigned to each arm."
        )
    if obs.sum() <= 0:
        raise DataError("srm_test: every count is zero; there is nothing to test.")
    if not np.isfinite(shares).all() or (shares <= 0).any():
        raise DataError(
            f"srm_test: every planned share in ratios must be positive and finite, got "
            f"{shares.tolist()}; drop arms that were planned to receive no traffic."
        )


def _message(
    arms: tuple[str, ...], obs: np.ndarray, exp: np.ndarray, p: float, alpha: float
) -> str:
    resid = (obs - exp) / np.sqrt(exp)
    k = int(np.argmax(np.abs(resid)))
    off = obs[k] / exp[k] - 1.0
    direction = "more" if off > 0 else "fewer"
    if p >= alpha:
        return (
            f"No sample-ratio mismatch detected (p = {p:.3g} >= {alpha:g}): the arm sizes "
            "agree with the planned allocation."
        )
    return (
        f"SAMPLE-RATIO MISMATCH (p = {p:.3g} < {alpha:g}): arm {arms[k]!r} has "
        f"{obs[k]:.0f} units, {abs(off):.2%} {direction} than the {exp[k]:.0f} the design "
        f"expects. Do not trust the effect estimates until the cause is found. Common causes: "
        f"{_CAUSES}. Compare arm sizes by day, platform and browser to locate it."
    )


def srm_test(
    counts: Sequence[float] | Mapping[Any, float],
    ratios: Sequence[float] | Mapping[Any, float] | None = None,
    *,
    alpha: float = 0.001,
) -> SRMResult:
    """Test the arm sizes against the planned allocation (module docstring).

    Parameters
    ----------
    counts : sequence of numbers or mapping arm -> count
        Units assigned to each arm.
    ratios : sequence or mapping, optional
        Planned allocation, in any units (``[50, 50]``, ``[1, 1]`` and ``[0.5, 0.5]`` are
        the same); normalised to shares. Default: equal shares.
    alpha : float, default 0.001
        Alarm threshold for the p-value.

    Returns
    -------
    SRMResult
        ``statistic``, ``df``, ``p_value`` equal ``scipy.stats.chisquare(counts,
        N * shares)``; ``alarm`` and a plain-language ``message``.

    Raises
    ------
    paribus.errors.DataError
        Negative or non-finite counts, a non-positive planned share, or counts and
        ratios of different lengths (or naming different arms).
    paribus.errors.ParameterError
        ``alpha`` outside (0, 1).
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ParameterError(f"srm_test: alpha must be a number in (0, 1), got {alpha!r}.")
    arms, obs, shares = _as_arrays(counts, ratios)
    _check(obs, shares)
    exp = obs.sum() * shares / shares.sum()
    statistic = float(np.sum((obs - exp) ** 2 / exp))
    df = obs.size - 1
    p = float(stats.chi2.sf(statistic, df))
    return SRMResult(
        statistic=statistic,
        df=df,
        p_value=p,
        alpha=float(alpha),
        alarm=bool(p < alpha),
        arms=arms,
        observed=tuple(float(x) for x in obs),
        expected=tuple(float(x) for x in exp),
        message=_message(arms, obs, exp, p, alpha) if math.isfinite(p) else "",
    )
