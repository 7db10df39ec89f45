"""Pure RL losses, advantages, the learner step and SFT."""
