"""`python -m possync.entry.cli` is `possync`."""

from possync.entry.cli import main

main()
