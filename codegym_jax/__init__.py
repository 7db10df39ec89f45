"""codegym-jax: RL for LLM tool-use agents on synthetic CodeGym environments, in JAX."""
