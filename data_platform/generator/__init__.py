"""Realistic raw event log generator (contract v1): see :func:`generate_logs`."""

from data_platform.generator.incidents import INCIDENT_KINDS, NULL_SPIKE_FIELDS, Incident, parse_incident
from data_platform.generator.logs import generate_logs
from data_platform.generator.malformed import MALFORMED_KINDS

__all__ = ["INCIDENT_KINDS", "MALFORMED_KINDS", "NULL_SPIKE_FIELDS", "Incident", "generate_logs", "parse_incident"]
