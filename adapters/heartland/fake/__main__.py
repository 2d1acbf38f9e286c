"""`python -m possync.adapters.heartland.fake [--host H] [--port P]`: serve the Heartland fake in the foreground."""

from __future__ import annotations

import argparse

from possync.adapters.heartland.fake import DEFAULT_REQUESTS_PER_WINDOW, DEFAULT_WINDOW_SECONDS, FakeServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m possync.adapters.heartland.fake",
                                     description="Serve the Heartland fake.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--token", default=None, help="the only API token accepted (default: any bearer token)")
    parser.add_argument("--rate-limit", type=int, default=DEFAULT_REQUESTS_PER_WINDOW,
                        help="requests per window; 0 switches the limit off")
    parser.add_argument("--window", type=float, default=DEFAULT_WINDOW_SECONDS, help="rate-limit window in seconds")
    args = parser.parse_args(argv)
    fake = FakeServer(
        api_token=args.token,
        requests_per_window=args.rate_limit or None,
        window_seconds=args.window,
    )
    fake.serve_forever(args.host, args.port)


if __name__ == "__main__":
    main()
