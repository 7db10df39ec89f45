"""The README default: a from-scratch tiny model on the CPU, built-in environments, JAX sampler.

Sized to finish all five stages in about 14 minutes on 2 cores; README ("The README default")
explains each choice and records what the run measured.
"""
from codegym_jax.rl.learner import OptimizerConfig
from experiments.config import (DataConfig, EvalConfig, ExperimentConfig, ModelConfig, RolloutConfig,
                                TrainConfig)


# One string-scanning environment whose procedure is regular (positions that advance by one,
# characters copied from the last observations) and whose answer, a string, cannot be guessed.
TRAIN_ENVS = ("LongestCommonPrefixEnv",)


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="tiny_cpu",
        # 0.6M parameters besides the 2048 x 128 embedding; one KV head keeps the cache small.
        model=ModelConfig(hidden_size=128, intermediate_size=384, num_layers=2, num_heads=2,
                          num_kv_heads=1, head_dim=64),
        # Easy instances solved in 10-16 oracle calls: transcripts of ~850 tokens.
        data=DataConfig(train_envs=TRAIN_ENVS, train_per_env=80, val_per_env=32, difficulties=("easy",),
                        max_oracle_steps=16),
        # Compact tool docs keep the prompt near 350 tokens; 32 slots hold one step's episodes.
        rollout=RolloutConfig(group_size=8, tool_docs="compact", temperature=0.7, max_turns=24,
                              max_new_tokens_per_turn=48, max_prompt_tokens=448, max_response_tokens=704,
                              sampler_slots=32),
        train=TrainConfig(stages=("data", "sft", "rl", "sft_baseline", "eval"), sft_steps=120,
                          sft_batch_size=16, rl_steps=16, tasks_per_step=4, mini_batch_size=8,
                          micro_batch_size=8),
        sft_optimizer=OptimizerConfig(learning_rate=3e-3, warmup_steps=5, weight_decay=0.0),
        optimizer=OptimizerConfig(learning_rate=2e-4, warmup_steps=3, weight_decay=0.0),
        eval=EvalConfig(every_steps=8, num_tasks=32, samples_per_task=2, pass_k=(1, 2), temperature=0.7),
    )
