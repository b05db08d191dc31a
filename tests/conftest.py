from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("PARIBUS_NO_PROGRESS", "1")
# OpenMP worker threads (HistGradientBoosting) stall for seconds on a loaded 2-core
# machine when fits are small and many; tests run them single-threaded
os.environ.setdefault("OMP_NUM_THREADS", "1")

import paribus

# serial by default in tests: loky workers cannot import modules loaded by pytest's
# importlib mode, and small fits are faster in-process; tests/test_config.py runs the
# parallel paths explicitly
paribus.config(n_jobs=1)

_ROOT = Path(__file__).resolve().parents[1]


def shared_datasets_dir() -> Path:
    """The team's reference datasets: $PARIBUS_SHARED_DATASETS or ../shared/datasets."""
    env = os.environ.get("PARIBUS_SHARED_DATASETS")
    path = Path(env) if env else _ROOT.parent / "shared" / "datasets"
    if not path.is_dir():
        raise RuntimeError(f"reference datasets not found at {path}; set PARIBUS_SHARED_DATASETS")
    return path


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    return shared_datasets_dir()


@pytest.fixture(scope="session")
def sim():
    from _sim import simulate

    return simulate(n=2000, seed=1)
