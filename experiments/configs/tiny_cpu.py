"""The README default: a from-scratch tiny model on the CPU, built-in environments, JAX sampler."""
from experiments.config import DataConfig, ExperimentConfig, TrainConfig


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="tiny_cpu",
        data=DataConfig(train_per_env=8, val_per_env=4),
        train=TrainConfig(stages=("data",)),
    )
