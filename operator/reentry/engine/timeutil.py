"""Timestamps in RFC 3339, UTC, with a ``Z`` suffix and milliseconds.

Milliseconds, not the seconds of ``metav1.Time``: two services released within one second must
still show their order in status.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def format_time(moment: datetime) -> str:
    """``2026-11-23T14:00:00.125Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """Parse a timestamp written by :func:`format_time` (or any RFC 3339 one)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def format_duration(span: timedelta) -> str:
    """``1h2m3s`` style, whole seconds, as durations are written in plans."""
    total = int(span.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{seconds}s" if seconds or not text else "")
