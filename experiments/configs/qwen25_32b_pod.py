"""The paper's run (docs/architecture.md, "The paper's numbers"): Qwen2.5-32B-Instruct, GRPO with
512 tasks x 8 rollouts a step,
mini-batch 512 (8 updates a step), lr 1e-6 with 5 warm-up steps, no KL, clip 0.2, grad clip 1.0,
Adam (0.9, 0.95), weight decay 0.1, 5,120 prompt + 24,576 response tokens, temperature 1.0,
at most 256 tool calls, ~100 steps; SGLang rollouts behind a router; parameters FSDP-sharded
over the mesh with 8-way tensor parallelism. The stages run as one controller process over the
devices it sees; the multi-process train step (`codegym_jax/distributed.py`) is not yet wired
into `run.py` (README, "Running on a GPU with SGLang, and on a TPU/GPU pod")."""
from codegym_jax.rl.learner import OptimizerConfig
from codegym_jax.rl.losses import LossConfig
from codegym_jax.train.config import (AlgorithmConfig, CheckpointConfig, DataConfig, EvalConfig, ExperimentConfig,
                                MeshConfig, PolicyConfig, RolloutConfig, TrainConfig)


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="qwen25_32b_pod",
        model=PolicyConfig(hf_path="models/Qwen2.5-32B-Instruct", param_dtype="float32",
                          compute_dtype="bfloat16", remat=True),
        mesh=MeshConfig(data=1, fsdp=-1, tensor=8),
        rollout=RolloutConfig(engine="sglang", sglang_router_url="http://sglang-router:30000", group_size=8,
                              temperature=1.0, top_p=1.0, max_turns=256, max_new_tokens_per_turn=4096,
                              max_prompt_tokens=5120, max_response_tokens=24576, sampler_slots=1024),
        data=DataConfig(train_per_env=20, val_per_env=10, min_oracle_steps=10, max_oracle_steps=256),
        algorithm=AlgorithmConfig(advantage="grpo", loss=LossConfig(clip_low=0.2, clip_high=0.2, kl_coef=0.0),
                                  dynamic_sampling=True, old_logprobs="recompute"),
        optimizer=OptimizerConfig(learning_rate=1e-6, warmup_steps=5, b1=0.9, b2=0.95, weight_decay=0.1,
                                  grad_clip_norm=1.0),
        train=TrainConfig(stages=("data", "rl", "eval"), rl_steps=100, tasks_per_step=512, mini_batch_size=512,
                          micro_batch_size=8),
        eval=EvalConfig(every_steps=10, num_tasks=512, samples_per_task=4, pass_k=(1, 4), temperature=1.0),
        checkpoint=CheckpointConfig(every_steps=5, keep=3),
    )
