"""Chat rendering, tool-call parsing, the agent loop and rollout engines."""
