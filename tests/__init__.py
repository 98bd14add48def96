"""The suite's tests, laid out by audience:

- gates/: what users run, the gates on the real data (`pytest -n auto`);
- unit/: the helpers on synthetic data, fast (they run with the gates; alone: `pytest -m "not real"`);
- selftest/: the suite testing itself end to end (pytester runs, child processes, socket workers, its own machinery
  on the real model), marked `selftest` and run on their own (`pytest -n auto -m selftest`).

What they share is in fakes.py; no test module imports another."""
