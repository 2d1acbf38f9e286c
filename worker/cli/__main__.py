"""`python -m worker.cli` is `possync`."""

from worker.cli import main

main()
