"""``python -m tmux_builder.offline_model --host 127.0.0.1 --port 8765``: run the offline model."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from tmux_builder.offline_model.server import OfflineModelServer

logger = logging.getLogger("tmux_builder.offline_model")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tmux_builder.offline_model",
        description="A local, deterministic stand-in for the Anthropic Messages API.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(message)s")

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    server = OfflineModelServer(args.host, args.port).start()
    logger.info("ANTHROPIC_BASE_URL=%s ANTHROPIC_AUTH_TOKEN=offline", server.url)
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
