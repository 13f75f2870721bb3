"""The catalog of known AI user-agent tokens (package data `data/ai_agents.json`).

Names come from ai.robots.txt (pinned; see the file's `source`); the class and purposes of
each token are tdm-guard's own reading, explained in docs/agents.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ..model import Purpose
from .robots import product_token


@dataclass(frozen=True)
class Agent:
    """A known crawler or user agent, with what its operator uses it for."""

    name: str
    kind: str  # crawler | control | user-triggered | search | tool | ai-data
    purposes: frozenset[Purpose]
    operator: str | None = None


@lru_cache(maxsize=1)
def catalog() -> dict[str, Agent]:
    """Known AI agents keyed by lower-cased name."""
    raw = json.loads(resources.files("tdm_guard").joinpath("data/ai_agents.json").read_text())
    return {
        name.lower(): Agent(
            name, entry["class"], frozenset(Purpose(p) for p in entry["purposes"]),
            entry.get("operator"),
        )
        for name, entry in raw["agents"].items()
    }


def lookup(user_agent_value: str) -> Agent | None:
    """The catalog entry a robots.txt user-agent value names, if any (case-insensitive).

    The whole value is compared first (ai.robots.txt lists names such as "Brightbot 1.0"
    that are not RFC 9309 tokens), then its product token.
    """
    table = catalog()
    value = user_agent_value.strip().lower()
    return table.get(value) or table.get(product_token(value))
