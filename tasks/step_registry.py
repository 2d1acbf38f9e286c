"""Every destination's step functions by name: what the runner is given (tasks/destinations.py)."""

from __future__ import annotations

from possync.tasks import crm, steps

STEP_FUNCTIONS = {**steps.STEP_FUNCTIONS, **crm.STEP_FUNCTIONS}
