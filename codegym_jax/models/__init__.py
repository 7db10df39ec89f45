"""Qwen-family decoder in JAX, with HF checkpoint import and export."""
