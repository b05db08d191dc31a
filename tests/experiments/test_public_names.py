"""The public names of paribus.experiments that issue 9 promises, and a complete __all__."""

from __future__ import annotations

import types

import paribus.experiments as experiments


def test_issue_names_and_all_complete():
    from paribus.experiments import ABTest, power, sequential, simpson_check, srm_test

    assert callable(ABTest) and callable(simpson_check) and callable(srm_test)
    assert callable(power)  # the function, not shadowed by its module (design.py)
    assert isinstance(sequential, types.ModuleType)
    assert callable(sequential.GroupSequentialDesign) and callable(sequential.confidence_sequence)
    for name in experiments.__all__:
        assert hasattr(experiments, name), name
    public = {n for n in dir(experiments) if not n.startswith("_")}
    modules = {n for n in public if isinstance(getattr(experiments, n), types.ModuleType)}
    assert public - modules - {"annotations"} <= set(experiments.__all__) | modules
