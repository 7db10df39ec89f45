"""Stage 4: candidate solve() functions written from the tool docs, checked on every kept test."""

import ast


def _peeks(solve: ast.FunctionDef) -> str | None:
    """How `solve` reaches the environment other than through `self.step`, or None.

    An oracle that reads the instance's state or its reference answer still earns reward 1 on every
    test, but its transcripts show steps no tool reply justifies; a policy imitating them guesses."""
    if not solve.args.args:
        return "solve() takes no self"
    me = solve.args.args[0].arg
    parents = {child: node for node in ast.walk(solve) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(solve):
        if isinstance(node, ast.Name) and node.id == me:
            parent = parents.get(node)
            if parent is solve.args:
                continue
            if isinstance(parent, ast.Attribute) and parent.attr == "step":
                continue
            what = f"{me}.{parent.attr}" if isinstance(parent, ast.Attribute) else f"{me} itself"
            return f"solve() uses {what} (line {node.lineno}); it may reach the environment only through {me}.step"
    return None


def attach_solve(env_source: str, class_name: str, solve_source: str) -> str:
    """The env source with the candidate installed as the class's solve method."""
    tree = ast.parse(solve_source)  # SyntaxError reaches the caller as the candidate's rejection
    solves = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "solve"]
    if not solves:
        raise ValueError("candidate defines no top-level solve(self)")
    peek = _peeks(solves[0])
    if peek is not None:
        raise ValueError(peek)
    return f"{env_source.rstrip()}\n\n\n{solve_source.strip()}\n\n\n{class_name}.solve = solve\n"


def check_candidate(pool, source: str, env_strs: list[str]) -> tuple[str | None, list[int]]:
    """(failure or None, oracle steps per test): accepted only with reward 1 on every test."""
    steps = []
    for env_str in env_strs:
        # In a worker of its own, against an object exposing only `step`: a candidate that
        # reaches hidden state some way the static check above misses finds none there.
        result = pool.run_oracle(source, env_str, step_only=True)
        if result.error or result.reward != 1.0:
            why = result.error or f"reward {result.reward}"
            return f"{env_str[:60]}: {why[:160]}", steps
        steps.append(result.steps)
    return None, steps
