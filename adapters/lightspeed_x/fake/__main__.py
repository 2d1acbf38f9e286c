"""`python -m possync.adapters.lightspeed_x.fake [--port P]`: serve the X-Series fake in the foreground."""

from __future__ import annotations

import argparse

from possync.adapters.lightspeed_x.fake import DEFAULT_RATE_LIMIT, DEFAULT_WINDOW_SECONDS, FakeServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m possync.adapters.lightspeed_x.fake", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--rate-limit", type=int, default=DEFAULT_RATE_LIMIT, help="requests per window; 0 = off")
    parser.add_argument("--window", type=float, default=DEFAULT_WINDOW_SECONDS, help="window length in seconds")
    parser.add_argument("--token", default=FakeServer.DEFAULT_TOKEN, help="the personal token the fake accepts")
    args = parser.parse_args(argv)
    fake = FakeServer(rate_limit=args.rate_limit or None, window_seconds=args.window, access_token=args.token)
    print(f"personal token: {args.token}; OAuth client {fake.client_id}, refresh {FakeServer.DEFAULT_REFRESH_TOKEN}")
    fake.serve_forever(args.host, args.port)


if __name__ == "__main__":
    main()
