"""The runtime: settings, the Celery app, routing, the Redis limiter, the HTTP receiver and the CLI."""
