"""The offline model: a local, deterministic stand-in for the Anthropic Messages API.

Claude Code runs for real; only the model is replaced. Start it with
:class:`tmux_builder.offline_model.server.OfflineModelServer` or
``python -m tmux_builder.offline_model``.
"""
