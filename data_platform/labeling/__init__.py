"""Labeling: direct labels from feedback logs, human labels, weak supervision, active learning.

Classes are small integers everywhere in this package (0..K-1); -1 means "no label" (a rater who did
not answer, a labeling function that abstains).
"""

from data_platform.base.enums import ABSTAIN, SENTIMENTS

__all__ = ["ABSTAIN", "SENTIMENTS"]
