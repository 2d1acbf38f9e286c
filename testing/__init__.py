"""Support shared by `tests/` and `bench/` (neither imports the other for it): `testing.stack`, the process
stack of a run. Not installed, not in the image (README, "Layers")."""
