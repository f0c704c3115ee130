"""Powertools logging for the control plane: structured JSON lines with ids, never secrets.

The service name differs from the Chalice app name on purpose: when they are equal every log
line is printed twice (see the field notes).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="tmux-builder-control-plane", log_uncaught_exceptions=True)
