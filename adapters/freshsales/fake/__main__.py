"""`python -m possync.adapters.freshsales.fake --key KEY [...]`: serve the Freshsales fake in the foreground."""

from __future__ import annotations

import argparse

from possync.adapters.freshsales.fake.server import FakeFreshsales


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m possync.adapters.freshsales.fake",
                                     description="Serve the Freshsales fake.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--key", required=True, help="the API key accepted")
    parser.add_argument("--requests-per-hour", type=int, default=0, help="0 switches the hourly limit off")
    parser.add_argument("--hour-seconds", type=float, default=3600.0, help="the hour, scaled down for benchmarks")
    parser.add_argument("--per-minute", type=int, default=0, help="0 switches the per-minute limit off")
    parser.add_argument("--minute-seconds", type=float, default=60.0)
    parser.add_argument("--bare", action="store_true", help="without the e-commerce fields, stage and statuses")
    args = parser.parse_args(argv)
    FakeFreshsales(args.key, requests_per_hour=args.requests_per_hour or None, hour_seconds=args.hour_seconds,
                   per_minute=args.per_minute or None, minute_seconds=args.minute_seconds,
                   with_setup=not args.bare).serve_forever(args.host, args.port)


if __name__ == "__main__":
    main()
