"""Result types shared by every estimator: Effect, EffectTable and Summary."""

from paribus.results.effect import Effect
from paribus.results.summary import Summary
from paribus.results.table import EffectTable

__all__ = ["Effect", "EffectTable", "Summary"]
