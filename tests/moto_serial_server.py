"""moto's server, answering one request at a time.

DynamoDB applies a conditional write atomically per item. moto's own `moto_server` serves requests
on threads and checks a condition and writes without a lock, so two concurrent conditional writes
can both succeed there. Serving one request at a time gives the tests DynamoDB's per-item atomicity
while the clients still race for real.

Usage: python moto_serial_server.py HOST PORT
"""

import os
import signal
import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("moto_serial_server binds to loopback only")
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
