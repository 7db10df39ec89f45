"""Environment contract: env strings, static tool docs, task instances, built-in library."""
