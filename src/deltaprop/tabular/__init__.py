"""Tables: readers, preprocessing and the tabular model (preprocessing + estimator)."""

from deltaprop.core.diagnostics import check_feature_scales
from deltaprop.tabular.data import DataWarning, Preprocessor, infer_task, read_table
from deltaprop.tabular.model import TabularModel

__all__ = [
    "DataWarning",
    "Preprocessor",
    "TabularModel",
    "check_feature_scales",
    "infer_task",
    "read_table",
]
