"""Appliance: an offline installer and upgrade appliance."""

__version__ = "0.1.0"
