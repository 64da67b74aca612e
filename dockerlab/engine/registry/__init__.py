"""Registries: the distribution protocol client, and the lab registry (lab.py)."""
