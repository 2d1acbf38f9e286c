"""Data layer: the canonical customer, database tables, schemas and migrations.

Nothing here imports from `adapters`, `tasks` or `worker`: every other package builds on it.
"""
