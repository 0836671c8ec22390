"""The audit log: DATA_DIR/audit.log, one JSON object per line.

``who`` is the user's pseudonym (:func:`dashboard.auth.user_pseudonym`), 'local' for the user
of a dashboard without login, or 'unidentified' for a logged-in user whose pseudonym could not
be computed; never an e-mail or a name (reviewers are radiologists, whose identities RadQA does
not store). An auditor finds one person's events with :func:`events_of` and the pseudonym from
:func:`dashboard.auth.pseudonym_of`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from pathlib import Path
from typing import Any

AUDIT_FILE = "audit.log"
_LOCK = threading.Lock()
#: the values ``who`` may take: a 24-hex pseudonym, or the users that are no person
_WHO = re.compile(r"[0-9a-f]{24}|local|unidentified")


def audit_path(data_dir: Path) -> Path:
    return Path(data_dir) / AUDIT_FILE


def log_event(
    data_dir: Path, *, who: str, what: str, snapshot_id: str | None, **details: Any
) -> dict[str, Any]:
    """Append one event (who, when in UTC, what, snapshot id, details) and return it.

    ValueError when ``who`` is not a pseudonym (nor 'local' / 'unidentified'): a raw
    identity must never reach the log.
    """
    if not _WHO.fullmatch(who):
        raise ValueError(
            f"audit event {what!r}: who is not a pseudonym (nor 'local' / 'unidentified'); "
            "pass User.who, never an e-mail or a name"
        )
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
    with _LOCK, path.open("a+b") as fh:
        # a line cut short (a full disk, a kill mid-write) must not swallow this one
        fh.seek(0, 2)
        cut = fh.tell() > 0 and (fh.seek(-1, 2), fh.read(1))[1] != b"\n"
        fh.write((("\n" if cut else "") + line + "\n").encode("utf-8"))
    return event


def read_events(data_dir: Path) -> list[dict[str, Any]]:
    """Every event logged so far (oldest first); [] when nothing was logged. A line that is not
    a whole event (cut short by a full disk or a kill) is returned as
    ``{"what": "unreadable", "line": <its number>}``, so the log still reads and the gap shows."""
    path = audit_path(data_dir)
    if not path.exists():
        return []
    events = []
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        events.append(event if isinstance(event, dict) else {"what": "unreadable", "line": number})
    return events


def events_of(data_dir: Path, who: str) -> list[dict[str, Any]]:
    """The events of one user, by pseudonym (oldest first)."""
    return [e for e in read_events(data_dir) if e.get("who") == who]
