"""No cache or user file is unpickled by numpy: every np.load in the suite keeps allow_pickle=False
(docs/security.md)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_np_load_allows_pickles() -> None:
    offenders = [f"{path.relative_to(ROOT)}:{n}" for folder in ("ptq_helpers", "fixtures")
                 for path in (ROOT / folder).rglob("*.py")
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if re.search(r"allow_pickle\s*=\s*True", line)]
    assert not offenders, f"np.load(allow_pickle=True) would unpickle a cache file: {', '.join(offenders)}"


def test_torch_export_load_is_called_only_behind_the_guard() -> None:
    """Every torch.export.load in the suite follows ptq_helpers.data.pt2_guard's check in the same function."""
    for path in (ROOT / "ptq_helpers").rglob("*.py"):
        text = path.read_text()
        for match in re.finditer(r"torch\.export\.load\(", text):
            body = text[text.rfind("\ndef ", 0, match.start()):match.start()]
            assert re.search(r"\b(pt2_guard\.check|guard)\(", body), f"{path.relative_to(ROOT)}: torch.export.load " \
                                                                      f"without the pt2 guard before it"
