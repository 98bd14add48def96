"""resnet8-ptq helpers: assets, calibration, quantization, evaluation and reporting."""
from ptq_helpers.core.errors import AssetError, ConfigError, PTQError, UnsupportedQuantization

__all__ = ["AssetError", "ConfigError", "PTQError", "UnsupportedQuantization"]
