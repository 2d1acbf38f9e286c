"""The HTTP receiver: `create_app` in `possync.entry.web.app`; gunicorn loads `possync.entry.web.wsgi:app`."""
