"""Coding problems -> verified CodeGym environments and task data."""
