"""The plugin's gathering of results from xdist workers, in this process: workers on different kinds of CPU are
found and named (the runs themselves: tests/selftest/test_plugin.py)."""
from __future__ import annotations


def test_workers_on_different_kinds_of_cpu_fail_the_run_and_say_how_to_split_it() -> None:
    from ptq_helpers.results.run_results import RunResults

    gathered = RunResults()
    for worker, host, flags in (("gw0", "a", ["avx2", "avx512_vnni"]), ("gw1", "b", ["avx2"]),
                                ("gw2", "a", ["avx2", "avx512_vnni"])):
        gathered.merge(RunResults(machine={"host": host, "cpu": "X", "flags": flags}).export(), worker)
    assert gathered.mixed_machines() == ["X [avx2, avx512_vnni]: gw0 on a, gw2 on a", "X [avx2]: gw1 on b"]
    same = RunResults()
    for worker in ("gw0", "gw1"):
        same.merge(RunResults(machine={"host": worker, "cpu": "X", "flags": ["avx2"]}).export(), worker)
    assert same.mixed_machines() == []
