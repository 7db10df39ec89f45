"""python -m codegym_jax.synthesis --problems problems.jsonl --out DIR --base-url URL --model NAME"""

import argparse
import asyncio
import dataclasses
import json
import os

from codegym_jax.jsonl import read_jsonl
from codegym_jax.synthesis.config import SynthesisConfig
from codegym_jax.synthesis.pipeline import run_pipeline
from codegym_jax.synthesis.report import format_report

DEFAULT_PROBLEMS = os.path.join(os.path.dirname(__file__), "data", "problems.jsonl")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--problems", default=DEFAULT_PROBLEMS, help="JSONL of {id, statement, solution}")
    parser.add_argument("--out", required=True, help="output dir (stage files, envs/, tasks.jsonl, report)")
    for field in dataclasses.fields(SynthesisConfig):
        flag = "--" + field.name.replace("_", "-")
        parser.add_argument(flag, type=type(field.default), default=field.default)
    args = parser.parse_args(argv)
    config = SynthesisConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(SynthesisConfig)})
    if not config.api_key and os.environ.get("OPENAI_API_KEY"):
        config = dataclasses.replace(config, api_key=os.environ["OPENAI_API_KEY"])
    report = asyncio.run(run_pipeline(read_jsonl(args.problems), args.out, config))
    print(format_report(report))
    return report


if __name__ == "__main__":
    main()
