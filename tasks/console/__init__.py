"""What the operator console reads and does, as plain functions over a session (the views stay thin)."""
