"""The README default on `LongestCommonPrefixEnv`, whose oracle scans characters (its default until
the shortcut environment replaced it).

One procedure, taught by an oracle that only ever does what a policy can: read a character of
each string at a position, extend the prefix, advance; 10-16 calls, ~820-token transcripts.
README ("One procedure: `tiny_cpu_scan`") records what it measured: RL held the SFT policy
within a few points, and SFT continued swung by ±25 points from one step to the next, so RL's
margin over it was decided by the step on which the baseline stopped.
"""
import dataclasses

from codegym_jax.train.config import ExperimentConfig
from experiments.configs import tiny_cpu


def get_config() -> ExperimentConfig:
    base = tiny_cpu.get_config()
    return dataclasses.replace(
        base,
        name="tiny_cpu_scan",
        # Easy instances solved in 10-16 oracle calls (data's default minimum of 10 keeps them all).
        data=dataclasses.replace(base.data, train_envs=("LongestCommonPrefixEnv",), min_oracle_steps=10),
        rollout=dataclasses.replace(base.rollout, max_new_tokens_per_turn=48),
        # From the base, the answer copy appears near SFT step 200 (earlier or later by seed).
        train=dataclasses.replace(base.train, sft_steps=200),
    )
