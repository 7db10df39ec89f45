"""The README default's model on released CodeGym data: `experiments/released_example/` (three
released-format env files and 24 records with their prompts) in place of generated instances.

Point it at a released folder with `--set data.env_dir=DIR --set 'data.released.records=["FILE"]'`
(JSON Lines or Parquet record files, or folders of them). Episodes open with each record's own
prompt (`data.released.record_prompts`), as the paper trained.
"""
import dataclasses
import pathlib

from codegym_jax.train.config import DataConfig, ExperimentConfig, ReleasedDataConfig
from experiments.configs import tiny_cpu

EXAMPLE_DIR = pathlib.Path(__file__).resolve().parents[1] / "released_example"


def get_config() -> ExperimentConfig:
    base = tiny_cpu.get_config()
    return dataclasses.replace(
        base,
        name="tiny_cpu_released",
        # One of the three example environments is held out for val; one instance of each
        # other goes to val_seen. The examples' oracles take 11 to 31 calls.
        data=DataConfig(env_dir=str(EXAMPLE_DIR), min_oracle_steps=10, max_oracle_steps=256,
                        released=ReleasedDataConfig(records=(str(EXAMPLE_DIR / "records.jsonl"),),
                                                    heldout_fraction=0.34, record_prompts=True)),
        # The records' prompts carry the full tool docstrings (~1,000 tokens with the shipped
        # BPE) and their oracles up to 31 calls.
        rollout=dataclasses.replace(base.rollout, tool_docs="full", max_turns=48, max_prompt_tokens=1536,
                                    max_response_tokens=2560),
        train=dataclasses.replace(base.train, sft_steps=100, rl_steps=4),
        eval=dataclasses.replace(base.eval, num_tasks=8),
    )
