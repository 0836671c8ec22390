"""RadQA reports layer."""

from reports._render import alert_readings

__all__ = ["alert_readings"]
