"""Qwen2.5-0.5B-Instruct on one GPU: RL with SGLang rollouts (see experiments/qwen25_gpu.py for the shared settings)."""
from codegym_jax.train.config import ExperimentConfig
from experiments.qwen25_gpu import qwen25_gpu_config


def get_config() -> ExperimentConfig:
    return qwen25_gpu_config("0.5B", tasks_per_step=64, micro_batch_size=8, remat=False)
