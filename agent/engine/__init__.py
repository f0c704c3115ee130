"""Adapters for the AI coding CLI that runs in a user's tmux pane (one module per CLI)."""

from __future__ import annotations

from agent.engine.base import (
    Engine,
    EngineError,
    EngineExited,
    EngineNotReady,
    PermissionDenied,
    PromptNotDelivered,
    TurnResult,
    TurnTimeout,
)

__all__ = [
    "Engine",
    "EngineError",
    "EngineExited",
    "EngineNotReady",
    "PermissionDenied",
    "PromptNotDelivered",
    "TurnResult",
    "TurnTimeout",
]
