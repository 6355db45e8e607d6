"""A run's ``metrics.jsonl`` written by several worker processes at once (``map_trials`` with
``jobs > 1``): appends and the rewrite that cuts a log back to its checkpoint take the file's lock, so
no process loses another's lines."""

from __future__ import annotations

from pathlib import Path

from neuralpaths.io import append_jsonl, read_jsonl, truncate_jsonl
from neuralpaths.parallel import map_trials


def churn(item: tuple[str, int, int]) -> int:
    """Append ``n`` records; worker 0 also appends a record and cuts it out again after each (top
    level: worker processes import it)."""
    path, who, n = item
    for i in range(n):
        append_jsonl(path, {"who": who, "i": i})
        if who == 0:
            append_jsonl(path, {"who": "drop"})
            truncate_jsonl(path, lambda r: r.get("who") != "drop")
    return n


def test_concurrent_appends_and_rewrites_lose_no_line(tmp_path: Path):
    path = str(tmp_path / "metrics.jsonl")
    assert map_trials(churn, [(path, 0, 200), (path, 1, 200)], jobs=2, progress=False) == [200, 200]
    records = read_jsonl(path)
    assert sorted((r["who"], r["i"]) for r in records) == [(w, i) for w in (0, 1) for i in range(200)]
