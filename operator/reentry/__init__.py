"""reentry: a Kubernetes operator that enforces staged re-entry of a restored system after an outage."""

__version__ = "0.1.0"
