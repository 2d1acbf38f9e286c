"""The HTTP receiver: `create_app` in `worker.web.app`; gunicorn loads `worker.web.wsgi:app`."""
