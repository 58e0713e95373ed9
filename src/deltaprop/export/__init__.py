"""ONNX export of networks, estimators and tabular models (needs the onnx package)."""

from deltaprop.export.onnx import to_onnx

__all__ = ["to_onnx"]
