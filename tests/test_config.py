"""paribus.config: session settings, the parallel backend and nested-thread bounds."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import paribus
from _sim import COVARIATES, simulate
from paribus import IRM, Logit
from paribus._core.config import effective_n_jobs
from paribus._core.defaults import boosting_library, default_classifier, default_regressor
from paribus._core.learners import bounded_threads, seeded_clone, task_thread_bound
from paribus._core.parallel import inner_thread_limit, run_tasks
from paribus.errors import ParameterError


def _threads_seen(_: int) -> tuple[int | None, int]:
    from threadpoolctl import threadpool_info

    pools = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    model = seeded_clone(RandomForestRegressor(n_jobs=-1), 0)
    return task_thread_bound(), max(pools) if pools else -1, model.n_jobs  # type: ignore[return-value]


def test_config_sets_and_restores():
    before = paribus.get_config()
    with paribus.config(n_jobs=2, backend="threading") as now:
        assert now.n_jobs == 2 and now.backend == "threading"
        assert paribus.get_config().n_jobs == 2
    assert paribus.get_config() == before
    handle = paribus.config(inner_threads=1)
    try:
        assert paribus.get_config().inner_threads == 1 and "inner_threads=1" in repr(handle)
    finally:
        paribus.config(inner_threads=None)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"n_jobs": 0}, "n_jobs=0 is invalid"),
        ({"n_jobs": True}, "n_jobs=True is invalid"),
        ({"backend": 3}, "backend=3 is invalid"),
        ({"inner_threads": 0}, "inner_threads=0 is invalid"),
        ({"boosting": "xgboost"}, "boosting='xgboost' is invalid"),
    ],
)
def test_config_refuses_bad_settings(setting, message):
    before = paribus.get_config()
    with pytest.raises(ParameterError, match=message):
        paribus.config(**setting)
    assert paribus.get_config() == before


def test_effective_n_jobs_follows_joblib_conventions(monkeypatch):
    monkeypatch.setattr("paribus._core.config.cpu_count", lambda: 4)
    monkeypatch.setattr("paribus._core.parallel.cpu_count", lambda: 4)
    assert effective_n_jobs(-1) == 4 and effective_n_jobs(-2) == 3 and effective_n_jobs(3) == 3
    with paribus.config(n_jobs=-1):
        assert effective_n_jobs(None) == 4
    with paribus.config(n_jobs=2):
        assert effective_n_jobs(None) == 2 and inner_thread_limit(2) == 2


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_parallel_tasks_get_a_bounded_share_of_threads(backend, monkeypatch):
    with paribus.config(n_jobs=2, backend=backend, inner_threads=1):
        seen = run_tasks(_threads_seen, [(0,), (1,)])
    for bound, blas, forest_jobs in seen:
        assert bound == 1 and forest_jobs == 1
        assert blas in (1, -1)


def test_seeded_clone_caps_all_core_learners_only_inside_a_bound(monkeypatch):
    lightgbm = pytest.importorskip("lightgbm")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    pipe = make_pipeline(StandardScaler(), lightgbm.LGBMRegressor(n_jobs=None))
    assert seeded_clone(pipe, 1)[-1].n_jobs is None  # serial, no bound: untouched
    with bounded_threads(2):
        capped = seeded_clone(pipe, 1)
        assert capped[-1].n_jobs == 2 and capped[-1].random_state == 1  # None = every core
        assert seeded_clone(RandomForestRegressor(n_jobs=-1), 1).n_jobs == 2
        assert seeded_clone(RandomForestRegressor(n_jobs=8), 1).n_jobs == 2
        assert seeded_clone(RandomForestRegressor(n_jobs=1), 1).n_jobs == 1
        # scikit-learn reads None as one job: left alone (no deprecated n_jobs is set)
        assert seeded_clone(RandomForestRegressor(n_jobs=None), 1).n_jobs is None
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert task_thread_bound() == 3


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_results_do_not_depend_on_workers_or_backend(backend):
    frame = simulate(n=400, seed=2).frame
    settings = {"folds": 3, "outcome_model": LinearRegression(), "propensity_model": Logit()}
    serial = IRM(random_state=0, n_jobs=1, **settings).fit(frame, "t", "y", COVARIATES)
    with paribus.config(n_jobs=2, backend=backend):
        parallel = IRM(random_state=0, **settings).fit(frame, "t", "y", COVARIATES)
    assert parallel.result_ == serial.result_


def test_default_learners_follow_the_boosting_setting():
    with paribus.config(boosting="sklearn"):
        assert boosting_library() == "sklearn"
        assert isinstance(default_regressor(), HistGradientBoostingRegressor)
    with paribus.config(boosting="lightgbm"):
        pytest.importorskip("lightgbm")
        assert type(default_classifier()).__name__ == "LGBMClassifier"
        assert default_regressor().get_params()["n_jobs"] == 1
        assert default_regressor().get_params()["num_leaves"] == 8


def test_missing_lightgbm_is_refused_when_required(monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with paribus.config(boosting="lightgbm"), pytest.raises(ParameterError, match="pip install"):
        default_regressor()
    with paribus.config(boosting="auto"):
        assert isinstance(default_regressor(), HistGradientBoostingRegressor)


def test_logit_runs_with_single_threaded_blas(monkeypatch):
    from threadpoolctl import threadpool_info, threadpool_limits

    seen = []
    original = Logit._fit

    def spy(self, X, y, w):
        seen.extend(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
        return original(self, X, y, w)

    monkeypatch.setattr(Logit, "_fit", spy)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (rng.random(200) < 0.5).astype(float)
    with threadpool_limits(limits=2, user_api="blas"):
        Logit().fit(X, y)
        after = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    assert seen and set(seen) == {1}
    assert set(after) == {2}  # restored on exit


def test_fitted_estimators_and_results_pickle_for_process_workers(tmp_path):
    import pickle

    from paribus.checks import refute

    frame = simulate(n=300, seed=4).frame
    est = IRM(folds=2, outcome_model=LinearRegression(), propensity_model=Logit(), random_state=0)
    est.fit(frame, "t", "y", COVARIATES)
    twin = pickle.loads(pickle.dumps(est))
    assert twin.result_ == est.result_
    assert twin.result_.diagnostics == est.result_.diagnostics
    # the refuters ship the fitted estimator to loky workers (n_jobs=2, processes)
    with paribus.config(n_jobs=2, backend="loky"):
        checks = refute(est, frame, "t", "y", COVARIATES, n_repeats=2, random_state=0)
    assert len(checks) == 3
