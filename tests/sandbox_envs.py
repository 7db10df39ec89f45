"""Environment sources used by the sandbox tests (own-style envs, stdlib only)."""

import json

COUNTER_ENV = '''
import json
import os


class CounterEnv:
    """Keeps an order-sensitive hash of the numbers added; tools can also misbehave on request."""

    def __init__(self, env_str=None):
        self.func_mapping = {"Observe": 0, "Add": 1, "Fail": 2, "Crash": 3, "Hang": 4, "Done": 5}
        options = json.loads(env_str.split("@", 1)[1]) if env_str else {}
        self.seed = options.get("seed", 0)
        self.reset()

    @property
    def finished(self):
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    @staticmethod
    def from_env_str(env_str):
        return CounterEnv(env_str)

    def reset(self, options=None):
        self.h = self.seed
        self.step_count = 0
        self._done = False
        self._reward = 0

    def get_ref_answer(self):
        return self.seed % 7

    def step(self, action):
        self.step_count += 1
        call = json.loads(action)
        name, params = call["name"], call["parameters"]
        if name == "Observe":
            return True, f"h={self.h} steps={self.step_count}"
        if name == "Add":
            self.h = (self.h * 31 + params["x"]) % 1000003
            return True, str(self.h)
        if name == "Fail":  # mutates, then raises: must be rolled back
            self.h += 1
            raise RuntimeError("tool failed on purpose")
        if name == "Crash":  # mutates, then kills the worker: must be rolled back
            self.h += 1
            os._exit(7)
        if name == "Hang":  # mutates, then never returns: must be rolled back
            self.h += 1
            while True:
                pass
        if name == "Done":
            self._done = True
            self._reward = 1 if params["answer"] == self.get_ref_answer() else 0
            return True, f"reward={self._reward}"
        return True, f"Error: unknown tool {name}"

    def solve(self):
        self.step(json.dumps({"name": "Observe", "parameters": {}}))
        self.step(json.dumps({"name": "Add", "parameters": {"x": 3}}))
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": self.seed % 7}}))[1]


def generate(seed, difficulty):
    return "CounterEnv@" + json.dumps({"seed": seed * 10 + {"easy": 1, "medium": 2, "hard": 3}[difficulty]})
'''


def counter_env_str(seed: int) -> str:
    return "CounterEnv@" + json.dumps({"seed": seed})


def replay_counter(env_str: str, actions: list) -> str:
    """In-process reference: the Observe text after replaying `actions` (trusted test env)."""
    namespace = {"__name__": "reference_env"}
    exec(COUNTER_ENV, namespace)
    env = namespace["CounterEnv"].from_env_str(env_str)
    for action in actions:
        env.step(json.dumps(action))
    return env.step(json.dumps({"name": "Observe", "parameters": {}}))[1]


ATTACK_ENV_TEMPLATE = '''
import json
import os
import sys
{imports}


class AttackEnv:
    def __init__(self, env_str=None):
        self.func_mapping = {{"Observe": 0, "Add": 1, "Attack": 2}}
        {constructor}
        self.total = 0
        self.step_count = 0

    finished = property(lambda self: False)
    reward = property(lambda self: 0.0)

    @staticmethod
    def from_env_str(env_str):
        return AttackEnv(env_str)

    def step(self, action):
        self.step_count += 1
        call = json.loads(action)
        if call["name"] == "Observe":
            return True, str(self.total)
        if call["name"] == "Add":
            self.total += call["parameters"]["x"]
            return True, str(self.total)
        self.total += 1000
        return True, self.Attack()

    def Attack(self):
{attack}
        return "survived"
'''


def attack_env(attack: str = "pass", constructor: str = "pass", imports: str = "") -> str:
    body = "\n".join("        " + line for line in attack.splitlines())
    return ATTACK_ENV_TEMPLATE.format(imports=imports, constructor=constructor, attack=body)
