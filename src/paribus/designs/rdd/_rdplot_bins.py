"""Data-driven numbers of bins for RD plots (Calonico, Cattaneo & Titiunik 2015, JASA).

For evenly spaced (ES) or quantile spaced (QS) bins on one side, the integrated MSE of the
binned means is ``J^-2 B + J V / n`` up to constants, so ``J_IMSE = ceil((2 B n / V)^(1/3))``
(CCT 2015, Theorems 1-2); the "mimicking variance" choice makes the binned means as
variable as the raw data, ``J_MV = ceil(var(Y) / V * n / log(n)^2)`` (Sec. 4). ``B`` needs
the regression slope ``mu'(x)``, and ``V`` the conditional variance, estimated either from
spacings of the sorted data (``es``, ``qs``) or from global quartic fits of ``Y`` and
``Y^2`` ("pr" variants).
"""

from __future__ import annotations

import numpy as np

__all__ = ["BINSELECT", "select_bins"]

BINSELECT = ("es", "espr", "esmv", "esmvpr", "qs", "qspr", "qsmv", "qsmvpr")
_PILOT_ORDER = 4


def _poly_fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares coefficients of a global polynomial in raw ``x`` (lowest power first),
    lowering the order when the fit is singular."""
    for k in range(_PILOT_ORDER, 0, -1):
        design = x[:, None] ** np.arange(k + 1)
        if np.linalg.matrix_rank(design) == k + 1:
            return np.linalg.lstsq(design, y, rcond=None)[0]
    return np.array([np.mean(y)])


def _side(x: np.ndarray, y: np.ndarray, n: int, width: float) -> dict[str, tuple[float, float]]:
    """``(B, V)`` pairs for each method on one side; ``width`` is the side's range."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    g1, g2 = _poly_fit(x, y), _poly_fit(x, y**2)
    d1 = np.polynomial.polynomial.polyder(g1)
    var_y = float(np.var(y, ddof=1))

    def sigma2(at: np.ndarray) -> np.ndarray:
        s = np.polynomial.polynomial.polyval(at, g2) - np.polynomial.polynomial.polyval(at, g1) ** 2
        return np.where(s < 0, var_y, s)

    dx, dy = np.diff(xs), np.diff(ys)
    mid = (xs[1:] + xs[:-1]) / 2
    slope = np.polynomial.polynomial.polyval(x, d1)
    slope_mid = np.polynomial.polynomial.polyval(mid, d1)
    m = x.size
    b_es = width**2 / (12 * n) * float(np.sum(slope**2))
    b_qs = m**2 / (24 * n) * float(np.sum(dx**2 * slope_mid**2))
    return {
        "es": (b_es, 0.5 / width * float(np.sum(dx * dy**2))),
        "espr": (b_es, float(np.sum(dx * sigma2(mid))) / width),
        "qs": (b_qs, float(np.sum(dy**2)) / (2 * m)),
        "qspr": (b_qs, float(np.mean(sigma2(x)))),
        "var_y": (var_y, var_y),
    }


def select_bins(
    x: np.ndarray, y: np.ndarray, cutoff: float, x_min: float, x_max: float, binselect: str
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """``(J_selected, J_IMSE, J_MV)`` per side (left, right) for ``binselect``."""
    n = x.size
    left = x < cutoff
    base = binselect.replace("mv", "")  # es, espr, qs, qspr
    j_imse, j_mv = [], []
    for mask, width in ((left, cutoff - x_min), (~left, x_max - cutoff)):
        stats = _side(x[mask], y[mask], n, width)
        b, v = stats[base]
        var_y = stats["var_y"][0]
        j_imse.append(int(np.ceil((2 * b / v * n) ** (1 / 3))))
        j_mv.append(int(np.ceil(var_y / v * n / np.log(n) ** 2)))
    chosen = j_mv if "mv" in binselect else j_imse
    return (chosen[0], chosen[1]), (j_imse[0], j_imse[1]), (j_mv[0], j_mv[1])
