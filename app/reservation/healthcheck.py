"""The container health check (Dockerfile HEALTHCHECK, ECS container healthCheck), standard library only.

Exit 0 when /health/live answers 200 on the API port (PORT) or on the relay's health port
(RELAY_HEALTH_PORT): the same image runs both, and only one of them listens.
"""

from __future__ import annotations

import os
import sys
import urllib.request


def main() -> int:
    ports = dict.fromkeys([os.environ.get("PORT") or "8000", os.environ.get("RELAY_HEALTH_PORT") or "8001"])
    for port in ports:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=2) as response:
                if response.status == 200:
                    return 0
        except OSError:
            continue  # nothing on this port (the other command runs here), or not answering
    return 1


if __name__ == "__main__":
    sys.exit(main())
