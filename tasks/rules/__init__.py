"""The sync rules as plain functions: matching, mapping, diffing, consent, echoes, Heartland specifics.

No Celery and no HTTP here; I/O only through arguments (a SQLAlchemy session, a `PosAdapter`).
"""
