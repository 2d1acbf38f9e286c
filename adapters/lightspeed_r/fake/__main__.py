"""`python -m possync.adapters.lightspeed_r.fake --port 8081`: serve the R-Series fake in the foreground.

Point a tenant at it with `pos.base_url: http://127.0.0.1:8081` and the account id and tokens below.
"""

from __future__ import annotations

import argparse
import json
import sys

from possync.adapters.lightspeed_r.fake import FakeServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m possync.adapters.lightspeed_r.fake", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--account-id", default="12345")
    parser.add_argument("--access-token", default="fake-access-token")
    parser.add_argument("--refresh-token", default="fake-refresh-token")
    parser.add_argument("--client-id", default="fake-client-id")
    parser.add_argument("--client-secret", default="fake-client-secret")
    parser.add_argument("--bucket-size", type=float, default=90.0)
    parser.add_argument("--drip-rate", type=float, default=1.0)
    parser.add_argument("--burst-limit", type=int, default=None)
    parser.add_argument("--no-rate-limit", action="store_true", help="switch the leaky bucket off")
    parser.add_argument("--seed", help="a JSON file with a list of customer records to load")
    args = parser.parse_args(argv)
    fake = FakeServer(
        account_id=args.account_id,
        access_token=args.access_token,
        refresh_token=args.refresh_token,
        client_id=args.client_id,
        client_secret=args.client_secret,
        bucket_size=None if args.no_rate_limit else args.bucket_size,
        drip_rate=args.drip_rate,
        burst_limit=args.burst_limit,
    )
    if args.seed:
        with open(args.seed, encoding="utf-8") as handle:
            fake.seed(json.load(handle))
    fake.serve_forever(args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
