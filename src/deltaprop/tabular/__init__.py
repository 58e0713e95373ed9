"""Tables: readers, preprocessing and the tabular model (preprocessing + estimator)."""

from deltaprop.core.diagnostics import check_feature_scales
from deltaprop.tabular.columns import infer_task
from deltaprop.tabular.model import TabularModel
from deltaprop.tabular.preprocessing import DataWarning, Preprocessor
from deltaprop.tabular.readers import read_table

__all__ = [
    "DataWarning",
    "Preprocessor",
    "TabularModel",
    "check_feature_scales",
    "infer_task",
    "read_table",
]
