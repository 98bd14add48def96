"""The build-once store: one run's models, their predictions on each target and the measurements beside them."""
from ptq_helpers.store.inputs import library_versions
from ptq_helpers.store.models import ModelResult, Store

__all__ = ["ModelResult", "Store", "library_versions"]
