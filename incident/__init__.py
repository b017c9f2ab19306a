"""incident: emergency response and incident coordination for managed estates."""

__version__ = "0.1.0"
