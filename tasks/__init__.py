"""The pipeline: Celery tasks over plain, separately tested functions (rules, polls, replay, privacy)."""
