"""The data layer: CausalData (roles + validation) and table conversion."""

from paribus.data.causal_data import CausalData
from paribus.data.convert import to_pandas

__all__ = ["CausalData", "to_pandas"]
