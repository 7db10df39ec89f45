"""The README default with an environment the oracle solves in two ways: does RL pick its own?

`LongestCommonPrefixRoutesEnv` hides a route in each instance: the oracle either folds the strings
with the `CommonPrefixOfTwo` tool or reads them and submits the prefix it computed. SFT on its
transcripts gives a policy both procedures in equal share, and SFT continued keeps that share;
RL can move it towards the procedure the policy executes more reliably. README ("Two
procedures") records what it measured: the share moves, the lead is the gap between them.
"""
import dataclasses

from codegym_jax.train.config import ExperimentConfig
from experiments.configs import tiny_cpu


def get_config() -> ExperimentConfig:
    base = tiny_cpu.get_config()
    # The default's data and rollout budgets fit: transcripts of 5 (read) or 7 (fold) calls, 64
    # tokens a turn (a CommonPrefixOfTwo call is 49 tokens with two 12-letter strings, as in
    # README's longer-tail variants).
    return dataclasses.replace(
        base,
        name="tiny_cpu_routes",
        data=dataclasses.replace(base.data, train_envs=("LongestCommonPrefixRoutesEnv",)),
        # At 200 steps neither procedure had been learned (6-31% success); 300 fit in 11 minutes.
        train=dataclasses.replace(base.train, sft_steps=300),
    )
