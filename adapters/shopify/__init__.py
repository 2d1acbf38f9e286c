"""Shopify: the webhook signature, payload senders, the GraphQL Admin client and a fake of the API.

Modules are imported where they are used (`possync.adapters.shopify.client`, `.hmac`, `.webhooks`, `.fake`),
so the receiver's hot path loads the HMAC function without Flask fakes or `requests` sessions.
"""
