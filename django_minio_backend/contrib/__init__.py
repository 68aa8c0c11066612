"""Integrations with other Django packages, each an optional extra; nothing here is imported by the core."""
