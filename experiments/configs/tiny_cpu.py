"""The README default: a from-scratch tiny model on the CPU, built-in environments, JAX sampler."""
from codegym_jax.rl.learner import OptimizerConfig
from experiments.config import (DataConfig, EvalConfig, ExperimentConfig, ModelConfig, RolloutConfig,
                                TrainConfig)


# A few environments whose procedures are regular (counters, values copied from the last
# observations), so a from-scratch model can learn them in minutes on two cores.
TRAIN_ENVS = ("MaxSubarrayEnv", "LongestCommonPrefixEnv", "JumpGameEnv", "ValidPalindromeEnv")


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="tiny_cpu",
        model=ModelConfig(hidden_size=128, intermediate_size=384, num_layers=2, num_heads=2,
                          num_kv_heads=1, head_dim=64),
        data=DataConfig(train_envs=TRAIN_ENVS, train_per_env=40, val_per_env=8, difficulties=("easy",),
                        max_oracle_steps=20),
        rollout=RolloutConfig(group_size=8, tool_docs="compact", max_turns=24, max_new_tokens_per_turn=48,
                              max_prompt_tokens=512, max_response_tokens=1024, sampler_slots=64),
        train=TrainConfig(stages=("data", "sft", "rl", "sft_baseline", "eval"), sft_steps=60,
                          sft_batch_size=16, rl_steps=10, tasks_per_step=8, mini_batch_size=64,
                          micro_batch_size=8),
        sft_optimizer=OptimizerConfig(learning_rate=3e-3, warmup_steps=5, weight_decay=0.0),
        optimizer=OptimizerConfig(learning_rate=5e-4, warmup_steps=0, weight_decay=0.0),
        eval=EvalConfig(every_steps=0, num_tasks=32, temperature=1.0),
    )
