"""CausalData: every accepted input type and every refusal the issue lists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paribus import CausalData
from paribus.errors import DataError, DataWarning


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "t": [0, 1] * 10,
            "y": rng.normal(size=20),
            "age": rng.integers(20, 60, size=20).astype(float),
            "income": rng.normal(size=20),
            "region": ["north", "south"] * 10,
            "clinic": np.repeat(np.arange(5), 4),
        }
    )


def roles(**extra):
    return {"treatment": "t", "outcome": "y", "covariates": ["age", "income"], **extra}


def test_pandas_roles_and_arrays(frame):
    cd = CausalData(frame, **roles(cluster="clinic"))
    assert cd.n_obs == 20
    assert cd.X.shape == (20, 2) and cd.X.dtype == np.float64
    np.testing.assert_array_equal(cd.t, frame["t"].to_numpy(dtype=float))
    np.testing.assert_array_equal(cd.y, frame["y"].to_numpy())
    assert cd.roles["cluster"] == ["clinic"]
    assert set(cd.column("cluster")) == set(range(5))
    assert "n_obs=20" in repr(cd)


def test_polars_pyarrow_numpy_dict_and_files(frame, tmp_path):
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    numeric = frame.drop(columns="region")
    expected = CausalData(numeric, **roles()).X
    sources = [
        pl.from_pandas(numeric),
        pl.from_pandas(numeric).lazy(),
        pa.Table.from_pandas(numeric),
        {c: numeric[c].to_numpy() for c in numeric.columns},
    ]
    numeric.to_csv(tmp_path / "d.csv", index=False)
    numeric.to_parquet(tmp_path / "d.parquet")
    sources += [tmp_path / "d.csv", str(tmp_path / "d.parquet")]
    for source in sources:
        np.testing.assert_allclose(CausalData(source, **roles()).X, expected)
    arr = numeric.to_numpy()
    cd = CausalData(arr, columns=list(numeric.columns), **roles())
    np.testing.assert_allclose(cd.X, expected)


def test_from_arrays_and_default_names():
    rng = np.random.default_rng(1)
    cd = CausalData.from_arrays(
        treatment=[0, 1, 0, 1], outcome=rng.normal(size=4), covariates=rng.normal(size=(4, 2))
    )
    assert cd.covariates == ["x0", "x1"]


def test_bool_treatment_is_cast(frame):
    frame["t"] = frame["t"].astype(bool)
    assert set(CausalData(frame, **roles()).t) == {0.0, 1.0}


def test_missing_column_suggests_close_match(frame):
    with pytest.raises(DataError, match=r"covariates column 'agee' is not in the data.*'age'"):
        CausalData(frame, **roles(covariates=["agee"]))


def test_duplicated_roles(frame):
    with pytest.raises(DataError, match="'age' is given as both treatment and covariates"):
        CausalData(frame, treatment="age", outcome="y", covariates=["age"])
    with pytest.raises(DataError, match="'age' is given twice in covariates"):
        CausalData(frame, **roles(covariates=["age", "age"]))


def test_non_numeric_covariate_says_how_to_encode(frame):
    with pytest.raises(DataError, match=r"'region' is not numeric.*get_dummies"):
        CausalData(frame, **roles(covariates=["region"]))
    frame["cat"] = frame["region"].astype("category")
    with pytest.raises(DataError, match="'cat' is not numeric"):
        CausalData(frame, **roles(covariates=["cat"]))


def test_missing_outcome_refused_unless_dropna(frame):
    frame.loc[[3, 7], "y"] = np.nan
    with pytest.raises(DataError, match=r"outcome column 'y' has 2 missing values \(rows 3, 7\)"):
        CausalData(frame, **roles())
    with pytest.warns(DataWarning, match="dropped 2 of 20 rows"):
        cd = CausalData(frame, **roles(), dropna=True)
    assert cd.n_obs == 18


def test_missing_treatment_refused(frame):
    frame["t"] = frame["t"].astype(float)
    frame.loc[0, "t"] = np.nan
    with pytest.raises(DataError, match="treatment column 't' has 1 missing"):
        CausalData(frame, **roles())


def test_missing_covariates_only_where_allowed(frame):
    frame.loc[5, "age"] = np.nan
    with pytest.raises(DataError, match="HistGradientBoosting"):
        CausalData(frame, **roles())
    cd = CausalData(frame, **roles(), allow_missing_covariates=True)
    assert np.isnan(cd.X[5, 0])


def test_infinite_values(frame):
    frame.loc[2, "income"] = np.inf
    with pytest.raises(DataError, match="'income' has 1 infinite values"):
        CausalData(frame, **roles())


def test_constant_and_non_binary_treatment(frame):
    frame["t"] = 1
    with pytest.raises(DataError, match="constant"):
        CausalData(frame, **roles())
    frame["t"] = [1, 2] * 10
    with pytest.raises(DataError, match=r"takes values \[1.0, 2.0\], not 0/1; recode"):
        CausalData(frame, **roles())
    frame["t"] = np.arange(20) % 3
    with pytest.raises(DataError, match="3 distinct values"):
        CausalData(frame, **roles())
    assert CausalData(frame, **roles(), binary_treatment=False).n_obs == 20


def test_mismatched_lengths():
    with pytest.raises(DataError, match="mismatched lengths"):
        CausalData({"t": [0, 1, 0], "y": [1.0, 2.0]}, treatment="t", outcome="y")
    with pytest.raises(DataError, match="treatment has 3 rows, outcome has 2 rows"):
        CausalData.from_arrays(treatment=[0, 1, 0], outcome=[1.0, 2.0])


def test_bad_weights_and_empty(frame):
    frame["w"] = -1.0
    with pytest.raises(DataError, match="non-negative"):
        CausalData(frame, **roles(weights="w"))
    with pytest.raises(DataError, match="no rows"):
        CausalData(frame.iloc[:0], **roles())


def test_unsupported_inputs(tmp_path):
    with pytest.raises(DataError, match="not supported"):
        CausalData(42, treatment="t")
    with pytest.raises(DataError, match="does not exist"):
        CausalData(tmp_path / "missing.csv", treatment="t")
    (tmp_path / "d.xlsx").write_text("x")
    with pytest.raises(DataError, match=r"expected a \.csv"):
        CausalData(tmp_path / "d.xlsx", treatment="t")
    with pytest.raises(DataError, match="must be 2-D"):
        CausalData(np.zeros(3), treatment="t")
