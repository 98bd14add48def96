"""The self-tests: the suite testing itself end to end (see conftest.py for how they are selected)."""
