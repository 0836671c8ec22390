"""The audit log of exports and downloads: DATA_DIR/audit.log, one JSON object per line."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

AUDIT_FILE = "audit.log"
_LOCK = threading.Lock()


def audit_path(data_dir: Path) -> Path:
    return Path(data_dir) / AUDIT_FILE


def log_event(
    data_dir: Path, *, who: str, what: str, snapshot_id: str | None, **details: Any
) -> dict[str, Any]:
    """Append one event (who, when in UTC, what, snapshot id, details) and return it."""
    event = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "who": who,
        "what": what,
        "snapshot_id": snapshot_id,
        **details,
    }
    path = audit_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(event, default=str, sort_keys=True)
    with _LOCK, path.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")
    return event


def read_events(data_dir: Path) -> list[dict[str, Any]]:
    """Every event logged so far (oldest first); [] when nothing was logged."""
    path = audit_path(data_dir)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
