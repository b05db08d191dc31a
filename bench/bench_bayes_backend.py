"""Measure a probabilistic-programming backend on the eight-schools model.

Run by hand, once per backend, from a throwaway virtual environment holding only that
backend and ArviZ::

    python3 -m venv /tmp/venv-pymc && /tmp/venv-pymc/bin/pip install pymc arviz
    /tmp/venv-pymc/bin/python bench/bench_bayes_backend.py pymc
    python3 -m venv /tmp/venv-numpyro && /tmp/venv-numpyro/bin/pip install numpyro arviz
    /tmp/venv-numpyro/bin/python bench/bench_bayes_backend.py numpyro

Prints the import time of the backend (plus ArviZ), the wall time of the first sampling
run (which includes compilation), the wall time of a second run of the same model with
new data (what a user pays per fit in a warm process), the divergences and the
posterior mean of ``mu`` and median of ``tau``. The model is the non-centred
eight-schools model (Rubin 1981; Gelman et al., BDA3 section 5.5) with
``mu ~ N(0, 5^2)`` and ``tau ~ half-Cauchy(5)``; 4 chains x 1000 draws after 1000 tuning
steps. Chains run in parallel where the backend allows it on the machine's cores.
Figures from the issue 9 measurement are in the module docstring of
``paribus.experiments.hierarchical`` and the lead's notes.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
CHAINS, DRAWS, TUNE = 4, 1000, 1000


def _pymc() -> dict[str, float]:
    t0 = time.perf_counter()
    import arviz  # noqa: F401
    import pymc as pm

    t_import = time.perf_counter() - t0

    def run(y: np.ndarray, seed: int) -> tuple[float, object]:
        t = time.perf_counter()
        with pm.Model():
            mu = pm.Normal("mu", 0.0, 5.0)
            tau = pm.HalfCauchy("tau", 5.0)
            z = pm.Normal("z", 0.0, 1.0, shape=len(y))
            theta = pm.Deterministic("theta", mu + tau * z)
            pm.Normal("y", theta, SIGMA, observed=y)
            idata = pm.sample(
                draws=DRAWS,
                tune=TUNE,
                chains=CHAINS,
                cores=min(CHAINS, os.cpu_count() or 1),
                random_seed=seed,
                progressbar=False,
            )
        return time.perf_counter() - t, idata

    t_first, idata = run(Y, 1)
    t_second, _ = run(Y + 1.0, 2)
    post = idata.posterior  # type: ignore[attr-defined]
    return {
        "import_s": t_import,
        "first_fit_s": t_first,
        "second_fit_s": t_second,
        "divergences": int(idata.sample_stats["diverging"].sum()),  # type: ignore[attr-defined]
        "mu_mean": float(post["mu"].mean()),
        "tau_median": float(np.median(post["tau"].values)),
    }


def _numpyro() -> dict[str, float]:
    t0 = time.perf_counter()
    import numpyro

    numpyro.set_host_device_count(CHAINS)
    import arviz  # noqa: F401
    import jax
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    t_import = time.perf_counter() - t0

    def model(sigma: np.ndarray, y: np.ndarray | None = None) -> None:
        mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
        tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
        with numpyro.plate("school", len(sigma)):
            z = numpyro.sample("z", dist.Normal(0.0, 1.0))
            theta = numpyro.deterministic("theta", mu + tau * z)
            numpyro.sample("y", dist.Normal(theta, sigma), obs=y)

    def run(y: np.ndarray, seed: int) -> tuple[float, MCMC]:
        t = time.perf_counter()
        mcmc = MCMC(
            NUTS(model),
            num_warmup=TUNE,
            num_samples=DRAWS,
            num_chains=CHAINS,
            chain_method="parallel",
            progress_bar=False,
        )
        mcmc.run(jax.random.PRNGKey(seed), SIGMA, y=y)
        samples = mcmc.get_samples()
        jax.block_until_ready(samples)
        return time.perf_counter() - t, mcmc

    t_first, mcmc = run(Y, 1)
    t_second, _ = run(Y + 1.0, 2)
    samples = mcmc.get_samples()
    extra = mcmc.get_extra_fields()
    return {
        "import_s": t_import,
        "first_fit_s": t_first,
        "second_fit_s": t_second,
        "divergences": int(np.asarray(extra["diverging"]).sum()),
        "mu_mean": float(np.mean(samples["mu"])),
        "tau_median": float(np.median(samples["tau"])),
    }


def main() -> None:
    backend = sys.argv[1] if len(sys.argv) > 1 else "pymc"
    if backend not in ("pymc", "numpyro"):
        raise SystemExit(f"backend must be 'pymc' or 'numpyro', got {backend!r}")
    result = _pymc() if backend == "pymc" else _numpyro()
    print(json.dumps({"backend": backend, **result}, indent=2))


if __name__ == "__main__":
    main()
