"""Tables: readers, column roles, preprocessing and the tabular model."""

from deltaprop.core.diagnostics import check_feature_scales
from deltaprop.tabular.columns import infer_task
from deltaprop.tabular.model import TabularModel
from deltaprop.tabular.preprocessing import DataWarning, Preprocessor
from deltaprop.tabular.readers import read_table
from deltaprop.tabular.roles import ColumnRole, infer_roles

__all__ = [
    "ColumnRole",
    "DataWarning",
    "Preprocessor",
    "TabularModel",
    "check_feature_scales",
    "infer_roles",
    "infer_task",
    "read_table",
]
