"""ShipStation (SPEC section 11): reading its customers, the import file, the merge plan."""
