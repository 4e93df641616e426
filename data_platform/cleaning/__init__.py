"""Cleaning: deduplication, normalisation, identity resolution, spam and bot rules."""
