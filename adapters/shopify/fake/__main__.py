"""`python -m possync.adapters.shopify.fake`: serve the fake Shopify GraphQL Admin API in the foreground."""

from __future__ import annotations

import argparse

from possync.adapters.shopify.fake import DEFAULT_SHOP, DEFAULT_TOKEN, FakeShopify


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m possync.adapters.shopify.fake", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the X-Shopify-Access-Token to accept")
    parser.add_argument("--shop", default=DEFAULT_SHOP, help="the shop domain webhooks are sent as")
    parser.add_argument("--bucket", type=float, default=1000.0, help="query-cost bucket size (points)")
    parser.add_argument("--restore-rate", type=float, default=50.0, help="points restored per second")
    parser.add_argument("--no-throttle", action="store_true", help="never answer THROTTLED")
    parser.add_argument("--webhook-url", help="send customers/* webhooks after API writes to this URL")
    parser.add_argument("--webhook-secret", help="client secret that signs those webhooks")
    args = parser.parse_args(argv)
    fake = FakeShopify(
        args.token,
        shop_domain=args.shop,
        maximum_available=None if args.no_throttle else args.bucket,
        restore_rate=args.restore_rate,
    )
    if args.webhook_url:
        if not args.webhook_secret:
            parser.error("--webhook-url needs --webhook-secret")
        fake.subscribe(args.webhook_url, args.webhook_secret)
    fake.serve_forever(args.host, args.port)


if __name__ == "__main__":
    main()
