"""Process logging: one format, the configured level, library chatter kept quiet.

httpx logs every upstream request at INFO; on the hot path that is a line per
call, so its loggers start at WARNING.
"""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET = ("httpx", "httpcore")


def setup(level: str) -> None:
    logging.basicConfig(level=level, format=FORMAT)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
