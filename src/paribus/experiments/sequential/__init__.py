"""Sequential tests: always-valid inference and group-sequential designs.

Looking at a fixed-sample test after every batch of users and stopping at the first
``p < alpha`` inflates the type-I error far above ``alpha``. Two remedies:

**Always-valid inference** (any number of looks, stop at any time). The mixture sequential
probability ratio test (mSPRT) of Johari, Koomen, Pekelis & Walsh (2022, "Always valid
inference: continuous monitoring of A/B tests", *Operations Research* 70(3), 1806-1821)
mixes the Gaussian likelihood ratio of the difference in means over ``theta ~ N(theta_0,
tau2)``. With ``diff = mean(y_t) - mean(y_c)`` and ``s2 = sigma_t**2/n_t + sigma_c**2/n_c``
its value at a look is

    Lambda = sqrt(s2 / (s2 + tau2)) * exp(tau2 (diff - theta_0)**2 / (2 s2 (s2 + tau2))),

a nonnegative martingale under ``theta_0``, so by Ville's inequality
``P(sup Lambda >= 1/alpha) <= alpha``. The always-valid p-value is the running minimum of
``1 / Lambda`` and the confidence sequence, the set of ``theta_0`` it does not reject, is
the running intersection of

    diff -+ sqrt(s2 (s2 + tau2) / tau2 * (2 log(1/alpha) + log((s2 + tau2) / s2))).

With ``sd=None`` the variances are the sample variances of each prefix (plug-in, as
JKPW recommend in practice); the guarantee is then asymptotic.

``method="asymptotic"`` is the Gaussian-mixture asymptotic confidence sequence (AsympCS)
of Waudby-Smith, Arnold, Wu, Ramdas et al. (2023, "Time-uniform central limit theory and
asymptotic confidence sequences", *Annals of Statistics*), whose time-uniform central
limit theorem makes it valid for any outcome with finite variance (conversions, revenue),
not only Gaussian ones. For ``N = n_t + n_c`` units with estimated influence-function
variance ``sigma2 = N * s2`` (``sigma_t**2 / pi + sigma_c**2 / (1 - pi)`` with ``pi =
n_t / N``, the ATE of a randomised experiment without covariates) its half-width is

    sqrt(sigma2 (N rho2 + 1) / (N**2 rho2) * (2 log(1/alpha) + log(N rho2 + 1))),

which is the mSPRT boundary above with a mixing variance that follows the estimated
variance, ``tau2 = rho2 * sigma2``. The always-valid p-value is its inversion (the same
``1 / Lambda``). :func:`optimal_tau2` (mSPRT) and the default ``rho2`` (AsympCS) make the
sequence narrowest at a planned look (Howard, Ramdas, McAuliffe & Sekhon 2021,
*Annals of Statistics* 49, 1055-1080): ``tau2 = x * se**2``, ``rho2 = x / N`` with
``x = 2 log(1/alpha) + log(1 + x)``.

**Group-sequential designs** (a few planned looks). :class:`GroupSequentialDesign` finds
critical values ``c_k`` for ``Z_k`` at information fractions ``t_1 < ... < t_K = 1``
under the canonical joint distribution ``corr(Z_i, Z_j) = sqrt(t_i / t_j)`` (Jennison &
Turnbull 2000, ch. 3) by the recursive numerical integration of Armitage, McPherson & Rowe
(1969, *JRSS A* 132, 235-244) on the score scale ``S_k = Z_k sqrt(t_k)``, whose
increments are independent ``N(eta (t_k - t_{k-1}), t_k - t_{k-1})``. The alpha spent by
look ``k`` follows a Lan & DeMets (1983, *Biometrika* 70, 659-663) spending function:

* ``"obrien-fleming"``: ``alpha(t) = 2 (1 - Phi(z_{1-alpha/2} / sqrt(t)))``;
* ``"pocock"``: ``alpha(t) = alpha log(1 + (e - 1) t)``;
* a callable ``f(t, alpha)`` returning the cumulative alpha spent by ``t``;

where, for a two-sided design of level ``alpha``, each side spends ``f(t, alpha / 2)``
(the convention of published tables and of gsDesign, rpact and ldbounds: the two-sided
0.05 design has the boundaries of two one-sided 0.025 designs);

or the original constant-shape designs: ``"classic-pocock"`` (Pocock 1977, one constant
``c``) and ``"classic-obrien-fleming"`` (O'Brien & Fleming 1979, ``c_k = C / sqrt(t_k)``).
"""

from paribus.experiments.sequential.always_valid import (
    ConfidenceSequence,
    SequentialTest,
    confidence_sequence,
    optimal_tau2,
)
from paribus.experiments.sequential.group_sequential import (
    GroupSequentialDesign,
    GroupSequentialTest,
    obrien_fleming_spending,
    pocock_spending,
)

__all__ = [
    "ConfidenceSequence",
    "GroupSequentialDesign",
    "GroupSequentialTest",
    "SequentialTest",
    "confidence_sequence",
    "obrien_fleming_spending",
    "optimal_tau2",
    "pocock_spending",
]
