"""Training: a baseline model for every published dataset version, what it measures, and how each
version compares with the one before (see docs/training.md)."""
