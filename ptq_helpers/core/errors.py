"""Exceptions whose messages name the file or option, what is wrong and the fix."""
from __future__ import annotations


class PTQError(Exception):
    """Base class of every error the suite raises on purpose."""


class AssetError(PTQError):
    """An input file (dataset, model) is missing, unreadable or not what it should be."""


class ConfigError(PTQError):
    """An option or setting has a value the suite cannot use."""


class UnsupportedQuantization(PTQError):
    """The requested framework/data type combination cannot be built on this backend."""


class CacheError(PTQError):
    """The cache cannot be used: disk full, a lock held too long."""
