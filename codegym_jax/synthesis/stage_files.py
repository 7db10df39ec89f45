"""The synthesis pipeline's stages, in order, and where each keeps its records.

Each stage writes one JSONL record per problem to <out>/<stage>.jsonl. The pipeline
(`codegym_jax.synthesis.pipeline`) writes these files and the report
(`codegym_jax.synthesis.report`) reads them; this module is what the two share, so neither
imports the other for it.
"""

import os

STAGES = ("env_generation", "checks", "unit_tests", "oracles", "filters")


def stage_path(out_dir: str, stage: str) -> str:
    """The records file of `stage` in the output dir `out_dir`."""
    return os.path.join(out_dir, f"{stage}.jsonl")
