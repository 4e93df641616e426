"""Vocabularies more than one stage uses."""

SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")
"""The review sentiment classes, in class-index order (labeling uses 0..K-1, -1 for no label)."""
ABSTAIN = -1
"""The class index of "no label" (a rater who did not answer, a labeling function that abstains)."""
