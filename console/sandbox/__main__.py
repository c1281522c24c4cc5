"""``python -m console.sandbox --port 8765 [--host 127.0.0.1] [--db PATH|:memory:] ...``"""

from __future__ import annotations

import argparse
import sys

from .app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REDIRECT_URI, Sandbox
from .server import make_server


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, start the server and print the listening line (flushed)."""
    parser = argparse.ArgumentParser(prog="python -m console.sandbox", description="AmoCRM v4 sandbox server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--db", default=":memory:", help="SQLite file or :memory:")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument("--redirect-uri", default=DEFAULT_REDIRECT_URI)
    parser.add_argument("--subdomain", default="demo")
    parser.add_argument(
        "--rate-limit", type=int, default=7, help="requests per second per integration; 0 = off"
    )
    parser.add_argument("--token-lifetime", type=int, default=86400, help="access-token lifetime in seconds")
    args = parser.parse_args(argv)
    sandbox = Sandbox(
        db=args.db,
        client_id=args.client_id,
        client_secret=args.client_secret,
        redirect_uri=args.redirect_uri,
        subdomain=args.subdomain,
        rate_limit=args.rate_limit,
        token_lifetime=args.token_lifetime,
    )
    server = make_server(sandbox, args.host, args.port)
    print(f"AmoCRM sandbox listening on {sandbox.public_url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
