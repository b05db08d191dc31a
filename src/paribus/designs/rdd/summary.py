"""rdrobust-style text summary of a fitted regression discontinuity."""

from __future__ import annotations

import html

from paribus.results import Effect

__all__ = ["RDSummary"]


def _pair(label: str, left: object, right: object = None, fmt: str = "{}") -> str:
    if right is None and isinstance(left, (list, tuple)):
        left, right = left
    return f"{label:<28}{fmt.format(left):>10} {fmt.format(right):>10}"


class RDSummary:
    """Printable summary of an RD :class:`~paribus.results.Effect` (text and HTML)."""

    def __init__(self, effect: Effect) -> None:
        self.effect = effect

    def __str__(self) -> str:
        e, d = self.effect, self.effect.diagnostics
        z = (e.ci_upper - e.ci_lower) / (2 * d["std_error_robust"])
        lines = [
            f"{d['design'].capitalize()} RD estimates using local polynomial regression.",
            "",
            f"{'Number of observations:':<36}{e.n_obs:>12}",
            f"{'Cutoff:':<36}{d['cutoff']:>12g}",
            f"{'Polynomial order est. (p):':<36}{d['p']:>12}",
            f"{'Polynomial order bias (q):':<36}{d['q']:>12}",
            f"{'Kernel:':<36}{d['kernel']:>12}",
            f"{'Bandwidth selection:':<36}{d['bwselect']:>12}",
            f"{'Variance estimator:':<36}{d['vce']:>12}",
            "",
            _pair("", "Left", "Right"),
            "-" * 50,
            _pair("Number of observations", d["n_left"], d["n_right"]),
            _pair("Number of unique values", *d["n_unique"]),
            _pair("Effective observations", *d["n_effective"]),
            _pair("Bandwidth h", d["h"], fmt="{:.3f}"),
            _pair("Bandwidth b", d["b"], fmt="{:.3f}"),
            _pair("rho (h/b)", d["h"][0] / d["b"][0], d["h"][1] / d["b"][1], fmt="{:.3f}"),
        ]
        if "first_stage" in d:
            lines.append(
                f"{'First stage (jump in ' + str(d['treatment']) + ')':<38}"
                f"{d['first_stage']:>11.3f}"
            )
        level = f"{e.level:.0%} CI"
        lines += [
            "",
            f"{'Method':<16}{'Coef.':>9}{'S.E.':>9}{'z':>8}{'P>|z|':>10}   {level}",
            "-" * 74,
            f"{'Conventional':<16}{e.estimate:>9.3f}{e.std_error:>9.3f}"
            f"{e.estimate / e.std_error:>8.3f}{d['p_value_conventional']:>10.3g}   "
            f"[{d['ci_conventional'][0]:.3f}, {d['ci_conventional'][1]:.3f}]",
            f"{'Robust':<16}{'-':>9}{'-':>9}"
            f"{d['estimate_bias_corrected'] / d['std_error_robust']:>8.3f}"
            f"{d['p_value_robust']:>10.3g}   [{e.ci_lower:.3f}, {e.ci_upper:.3f}]",
        ]
        del z
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"
