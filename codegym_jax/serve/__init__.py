"""An OpenAI-compatible server on the in-process JAX sampler, for any HF folder the project exports
(or a Qwen2.5 / Qwen3 one): `python -m codegym_jax.serve --model HF_DIR`. Evaluation harnesses
(BFCL, τ²-bench-style user simulators) reach a trained policy through it."""
