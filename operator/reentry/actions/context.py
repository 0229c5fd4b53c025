"""Which plan and which of its actions an executor works for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActionContext:
    """The plan an action belongs to: names what the action creates and owns it."""

    plan_name: str
    plan_uid: str
    action_name: str
