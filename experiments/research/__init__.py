"""One-off analyses of run directories (README.md here); not part of the training stack."""
