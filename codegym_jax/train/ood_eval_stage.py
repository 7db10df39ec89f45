"""The ood_eval stage: every policy the run has (initial, sft, rl, sft_baseline) scored on BFCL by
its own harness against the policy served OpenAI-style (`codegym_jax.ood_eval`).

A policy is served from its HF folder: "initial" from model.hf_path (exported to hf/initial
first when the model is from scratch or its tokenizer lives elsewhere), a training stage from
hf/{stage} (exported from its last checkpoint when checkpoint.export_hf was off). Scores go to
`RunPaths.ood_eval_result(policy)` (a rerun reuses them) and below the eval summary table.
"""
from __future__ import annotations

import json
import pathlib

from codegym_jax.models.hf_io import save_hf_model
from codegym_jax.ood_eval import score_folder
from codegym_jax.rollout import tokenizer as tokenizer_lib
from codegym_jax.run_paths import RunPaths
from codegym_jax.train import components, stage_results
from codegym_jax.train.config import ExperimentConfig
from codegym_jax.train.eval_stage import POLICY_LABELS, policies_present, write_summary
from codegym_jax.train.stage_results import write_json


def _is_hf_folder(folder: pathlib.Path) -> bool:
    return (folder / "config.json").exists() and any(folder.glob("*.safetensors"))


def policy_folder(config: ExperimentConfig, paths: RunPaths, policy: str) -> pathlib.Path:
    """The HF folder (weights + tokenizer) that serves `policy`, exported here if missing."""
    m = config.model
    if policy == "initial" and m.hf_path and not m.tokenizer_path:
        return pathlib.Path(m.hf_path)
    folder = paths.hf_dir(policy)
    if _is_hf_folder(folder):
        return folder
    tokenizer = components.load_tokenizer(config)
    arch = components.decoder_config(config, tokenizer)
    mesh = components.build_mesh(config)
    params = (components.initial_params(config, arch, mesh) if policy == "initial"
              else stage_results.load_final_state(config, paths, policy, arch, mesh).params)
    save_hf_model(folder, arch, params)
    tokenizer_lib.save(tokenizer, folder)
    return folder


def run_ood_eval(config: ExperimentConfig, paths: RunPaths) -> dict:
    scores = {}
    for policy in policies_present(paths):
        result_file = paths.ood_eval_result(policy)
        if result_file.exists():
            scores[policy] = json.loads(result_file.read_text())["scores"]
            print(f"ood_eval: {POLICY_LABELS[policy]}: scored earlier; reused")
            continue
        folder = policy_folder(config, paths, policy)
        print(f"ood_eval: {POLICY_LABELS[policy]} ({folder}) on {len(config.ood_eval.categories)} BFCL categories")
        result = score_folder(folder, paths.ood_eval_work_dir(policy), config.ood_eval, seed=config.train.seed)
        write_json(result_file, {**result, "policy": policy, "model_dir": str(folder)})
        scores[policy] = result["scores"]
        print(f"ood_eval: {POLICY_LABELS[policy]} took {result['wall_s']:.0f} s")
    print(write_summary(config, paths))
    return scores
