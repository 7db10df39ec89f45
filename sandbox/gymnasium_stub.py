"""A minimal stand-in for the `gymnasium` package, given to environment code that imports it.

Upstream CodeGym environments only subclass `gymnasium.Env` and call `super().__init__()`;
nothing else of gymnasium is used, so a small module keeps those files loading unchanged in
workers that do not have gymnasium installed.
"""

import types


class Env:
    """Base class of upstream environments (no behaviour is relied upon)."""

    metadata: dict = {}
    render_mode = None
    spec = None

    def __init__(self, *args, **kwargs):
        pass

    def reset(self, *args, **kwargs):
        return None

    def close(self):
        return None


def make_module() -> types.ModuleType:
    module = types.ModuleType("gymnasium")
    module.Env = Env
    module.__doc__ = "sandbox stand-in for gymnasium (Env only)"
    return module
