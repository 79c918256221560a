"""``python -m chalicelib.front``: the front on IMAGES_FRONT_HOST:IMAGES_FRONT_PORT until SIGTERM/SIGINT.

The data plane's container command (IMAGES_FRONT_MODE=data); the settings come from the
environment as the Lambda functions' do (chalicelib/config.py).
"""
from __future__ import annotations

import logging
import signal
import sys
import threading

from chalicelib.config import Settings


def main() -> int:
    settings = Settings.from_env()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    from chalicelib import front

    app = front.project_app()

    server = front.serve(front.make_application(app, settings), settings.front.front_host,
                         settings.front.front_port, settings.front.front_threads)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"Glance front ({settings.front.front_mode}) on {settings.front.front_host}:{server.port}", flush=True)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
