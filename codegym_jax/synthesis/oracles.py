"""Stage 4: candidate solve() functions written from the tool docs, checked on every kept test."""

import ast


def attach_solve(env_source: str, class_name: str, solve_source: str) -> str:
    """The env source with the candidate installed as the class's solve method."""
    tree = ast.parse(solve_source)  # SyntaxError reaches the caller as the candidate's rejection
    if not any(isinstance(node, ast.FunctionDef) and node.name == "solve" for node in tree.body):
        raise ValueError("candidate defines no top-level solve(self)")
    return f"{env_source.rstrip()}\n\n\n{solve_source.strip()}\n\n\n{class_name}.solve = solve\n"


def check_candidate(pool, source: str, env_strs: list[str]) -> tuple[str | None, list[int]]:
    """(failure or None, oracle steps per test): accepted only with reward 1 on every test."""
    steps = []
    for env_str in env_strs:
        result = pool.run_oracle(source, env_str)
        if result.error or result.reward != 1.0:
            why = result.error or f"reward {result.reward}"
            return f"{env_str[:60]}: {why[:160]}", steps
        steps.append(result.steps)
    return None, steps
