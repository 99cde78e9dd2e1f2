"""Runnable demonstrations of iron-cage (``iron-cage demo``)."""
