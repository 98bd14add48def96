"""Unit tests of the helpers on synthetic data: no real data, no models, no process started; fast."""
