"""Small helpers for asset metadata the Dagster UI shows well."""

import time


class StageClock:
    """Wall seconds per stage of a step, for the run log and the asset metadata."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 2)
        self._last = now


def markdown_table(records: list[dict]) -> str:
    """A small markdown table for asset metadata (values cut to 60 characters, pipes escaped)."""
    if not records:
        return "_none_"
    cols = list(records[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in records:
        cells = [str(r[c])[:60].replace("|", "\\|").replace("\n", " ") for c in cols]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)
