"""The training system as a library: the stages `experiments/run.py` runs, and their parts.

- `config` (the experiment schema, `check_config`, `run_paths`), `config_io` (config files and
  overrides in, resolved JSON out);
- `stages.run_stages` / `run_stage`: "data" (`data_stage`), "sft" and "sft_baseline"
  (`sft_stage`), "rl" (`rl_stage`), "eval" (`eval_stage`), "ood_eval" (`ood_eval_stage`: BFCL
  through `codegym_jax.ood_eval`);
- `components`: tokenizer, decoder config, mesh, initial params, episode budgets, sampling, the
  sandbox and the rollout engine, from the config; `stage_results`: stage checkpoints, done
  marks, HF exports; `weight_sync.EngineWeights`: the one-step-off-policy rule.

The algorithm of one RL step is `codegym_jax.rl.step.rl_step`; the run directory's layout is
`codegym_jax.run_paths.RunPaths`.
"""
