"""The paribus command: estimate, datasets, demo, and one-line refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _sim import COVARIATES, simulate
from paribus.cli import main


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "sim.csv"
    simulate(n=500, seed=2).frame.to_csv(path, index=False)
    return path


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_estimate_prints_table(capsys, csv):
    code, out, err = run(
        capsys,
        "estimate",
        str(csv),
        "--treatment",
        "t",
        "--outcome",
        "y",
        "--covariates",
        ",".join(COVARIATES),
        "--method",
        "ipw",
    )
    assert code == 0, err
    assert "ATE" in out and "interval" in out


def test_estimate_json(capsys, csv):
    code, out, _ = run(
        capsys,
        "estimate",
        str(csv),
        "--treatment",
        "t",
        "--outcome",
        "y",
        "--covariates",
        ",".join(COVARIATES),
        "--method",
        "aipw",
        "--estimand",
        "ATT",
        "--random-state",
        "0",
        "--json",
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["estimand"] == "ATT" and payload["method"] == "aipw"
    assert payload["scores"] is None


def test_estimate_bundled_dataset_with_warning(capsys):
    code, _, err = run(
        capsys,
        "estimate",
        "lalonde_cps",
        "--treatment",
        "treat",
        "--outcome",
        "re78",
        "--covariates",
        "age,educ,black,hisp,re74,re75",
        "--method",
        "ipw",
        "--estimand",
        "ATE",
    )
    assert code == 0
    assert "paribus: warning:" in err and "poor overlap" in err


def test_identify(capsys):
    code, out, _ = run(
        capsys,
        "identify",
        "--graph",
        "Z -> X; Z -> Y; X -> Y",
        "--treatment",
        "X",
        "--outcome",
        "Y",
    )
    assert code == 0 and "recommended adjustment set: {Z}" in out
    code, out, _ = run(
        capsys,
        "identify",
        "--graph",
        "X -> M -> Y; X <-> Y",
        "--treatment",
        "X",
        "--outcome",
        "Y",
        "--json",
    )
    assert code == 0 and json.loads(out)["strategy"] == "frontdoor"
    code, _, err = run(
        capsys, "identify", "--graph", "X -> Y; X <-> Y", "--treatment", "X", "--outcome", "Y"
    )
    assert code == 2 and "not identifiable" in err and err.count("\n") == 1


def test_datasets(capsys):
    code, out, _ = run(capsys, "datasets")
    assert code == 0 and "lalonde_cps" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["estimate", "{csv}", "--treatment", "t", "--outcome", "yy", "--method", "ipw"],
            "outcome column 'yy' is not in the data. Did you mean 'y'",
        ),
        (
            ["estimate", "nope.csv", "--treatment", "t", "--outcome", "y", "--method", "ipw"],
            "does not exist",
        ),
        (
            ["estimate", "{csv}", "--treatment", "t", "--outcome", "y", "--method", "magic"],
            "invalid choice: 'magic'",
        ),
        (
            ["estimate", "{csv}", "--treatment", "x1", "--outcome", "y", "--method", "ipw"],
            "needs a binary 0/1 treatment",
        ),
        (
            [
                "estimate",
                "{csv}",
                "--treatment",
                "t",
                "--outcome",
                "y",
                "--method",
                "ipw",
                "--level",
                "2",
            ],
            "level=2.0",
        ),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_refusals_are_one_line(capsys, csv, argv, message):
    argv = [a.replace("{csv}", str(csv)) for a in argv]
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("paribus: error:") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_demo_writes_report(capsys, tmp_path):
    code, out, err = run(capsys, "demo", "--out", str(tmp_path), "--no-plots")
    assert code == 0, err
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["benchmark_att"] == pytest.approx(1794.34)
    labels = result["effects"]["labels"]
    assert {"aipw", "ipw", "matching", "regression (OLS)", "subclassification"} <= set(labels)
    assert (tmp_path / "report.txt").read_text().startswith("Effect of NSW training")
    assert "Balance" in out


def test_estimate_with_an_instrument(capsys, tmp_path):
    frame = simulate(n=600, seed=3).frame
    flip = np.random.default_rng(3).random(len(frame)) < 0.15
    path = tmp_path / "iv.csv"
    frame.assign(z=np.where(flip, 1 - frame["t"], frame["t"])).to_csv(path, index=False)
    args = ["estimate", str(path), "--treatment", "t", "--outcome", "y"]
    args += ["--covariates", ",".join(COVARIATES), "--random-state", "0", "--json"]
    code, out, err = run(capsys, *args, "--method", "dml-iivm", "--instrument", "z")
    assert code == 0, err
    assert json.loads(out)["estimand"] == "LATE"
    code, _, err = run(capsys, *args, "--method", "aipw", "--instrument", "z")
    assert code == 2 and "takes no instrument" in err and "dml-pliv" in err
