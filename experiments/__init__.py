"""Experiment configs and the `run.py` entry point."""
