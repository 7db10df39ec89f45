"""Experiment config files; each exposes `get_config() -> ExperimentConfig`."""
