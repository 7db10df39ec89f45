"""Shared settings of the single-GPU Qwen2.5-Instruct configs: HF weights in, SGLang rollouts
(one server launched from `rollout.sglang_python`'s environment, weights synced from disk each
step), codegym tool-call format with full tool docs, bf16 compute over float32 master weights."""
from codegym_jax.rl.learner import OptimizerConfig
from codegym_jax.train.config import (CheckpointConfig, DataConfig, EvalConfig, ExperimentConfig, PolicyConfig,
                                RolloutConfig, TrainConfig)


def qwen25_gpu_config(size: str, tasks_per_step: int, micro_batch_size: int, remat: bool) -> ExperimentConfig:
    """`size` is "0.5B", "1.5B" or "7B"; the model folder defaults to models/Qwen2.5-<size>-Instruct
    (set model.hf_path to yours)."""
    folder = f"models/Qwen2.5-{size}-Instruct"
    return ExperimentConfig(
        name=f"qwen25_{size.lower().replace('.', 'p')}_gpu",
        model=PolicyConfig(hf_path=folder, param_dtype="float32", compute_dtype="bfloat16", remat=remat),
        rollout=RolloutConfig(engine="sglang", sglang_launch=True, sglang_python="python", group_size=8,
                              temperature=1.0, max_turns=64, max_new_tokens_per_turn=1024,
                              max_prompt_tokens=5120, max_response_tokens=11264, sampler_slots=256),
        data=DataConfig(train_per_env=20, val_per_env=10),
        train=TrainConfig(stages=("data", "rl", "eval"), rl_steps=100, tasks_per_step=tasks_per_step,
                          mini_batch_size=tasks_per_step * 8 // 4, micro_batch_size=micro_batch_size),
        optimizer=OptimizerConfig(learning_rate=1e-6, warmup_steps=5),
        eval=EvalConfig(every_steps=10, num_tasks=128, samples_per_task=4, pass_k=(1, 4), temperature=1.0),
        checkpoint=CheckpointConfig(every_steps=10, keep=2),
    )
