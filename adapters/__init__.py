"""One package per outside system (shopify, lightspeed_r, lightspeed_x, heartland).

Each holds a `requests` client, the mapping canonical <-> vendor JSON, the vendor's error table and a
contract-faithful fake server. Nothing outside `adapters` imports `requests` or sees vendor JSON.
"""
