"""Closing the flywheel: the retraining signal (drift, new labels, calibration since the last
published training version) and the training trigger a training pipeline subscribes to."""
