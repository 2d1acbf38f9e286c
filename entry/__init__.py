"""Entry points, the top layer: the `possync` command (cli/), the HTTP receiver (web/) and
the demo (demo/). They call into tasks/; nothing below imports them."""
