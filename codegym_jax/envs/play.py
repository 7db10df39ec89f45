"""Try an environment by hand.

    python -m codegym_jax.envs.play tools ENV_FILE [--examples] [--json]
    python -m codegym_jax.envs.play play ENV_FILE (--env-str 'Name@{...}' | --seed 0 --difficulty easy)

`tools` prints the tool docs as the model sees them (read statically, nothing is executed).
`play` runs the env in the sandbox and reads tool calls from stdin, one per line, either JSON
({"name": "GetItem", "parameters": {"index": 0}}) or `GetItem index=0` (values read as JSON when
they parse, else as text). `:tools`, `:oracle` (run the env's solve() on this task), `:quit`.
"""

import argparse
import json
import sys

from codegym_jax.envs.tool_docs import extract_env_spec, render_tool_docs, tool_json_schemas
from sandbox.pool import SandboxPool
from sandbox.results import SandboxError


def parse_call(line: str) -> dict:
    """A typed tool call: JSON, or `Name key=value ...`."""
    line = line.strip()
    if line.startswith("{"):
        return json.loads(line)
    name, *pairs = line.split()
    parameters = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise ValueError(f"expected key=value, got {pair!r}")
        try:
            parameters[key] = json.loads(raw)
        except ValueError:
            parameters[key] = raw
    return {"name": name, "parameters": parameters}


def play(source: str, env_str: str, lines, out, pool: SandboxPool) -> int:
    """Interactive loop; returns the number of tool calls made."""
    spec = extract_env_spec(source)
    session = pool.open_session(source, env_str)
    out.write(f"{env_str}\ntools: {', '.join(t.name for t in spec.tools)}\n> ")
    out.flush()
    calls = 0
    for line in lines:
        line = line.strip()
        if line in (":quit", ":q"):
            break
        if line == ":tools":
            out.write(render_tool_docs(spec))
        elif line == ":oracle":
            oracle = pool.run_oracle(source, env_str)
            for action, observation in zip(oracle.actions, oracle.observations):
                out.write(f"{json.dumps(action)}\n  -> {observation}\n")
            out.write(f"oracle: reward={oracle.reward} steps={oracle.steps} error={oracle.error}\n")
        elif line:
            try:
                call = parse_call(line)
            except ValueError as exc:
                out.write(f"could not read that call: {exc}\n> ")
                out.flush()
                continue
            result = pool.step(session, call)
            calls += 1
            out.write(f"{result.observation}\n")
            if result.done:
                out.write(f"episode finished: reward={result.reward} after {result.step_count} calls\n")
                break
        out.write("> ")
        out.flush()
    pool.close_session(session)
    return calls


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    tools = commands.add_parser("tools", help="list the tools of an env file")
    tools.add_argument("env_file")
    tools.add_argument("--examples", action="store_true", help="include Example Output sections")
    tools.add_argument("--json", action="store_true", help="print JSON schemas instead")
    session = commands.add_parser("play", help="play an env interactively")
    session.add_argument("env_file")
    session.add_argument("--env-str")
    session.add_argument("--seed", type=int, default=0)
    session.add_argument("--difficulty", default="easy", choices=("easy", "medium", "hard"))
    args = parser.parse_args(argv)
    with open(args.env_file, encoding="utf-8") as f:
        source = f.read()
    if args.command == "tools":
        spec = extract_env_spec(source)
        if spec.task_description:
            print(f"# {spec.class_name}\n{spec.task_description}\n")
        print(json.dumps(tool_json_schemas(spec), indent=2) if args.json
              else render_tool_docs(spec, with_examples=args.examples))
        return
    with SandboxPool(num_workers=1) as pool:
        try:
            env_str = args.env_str or pool.call_function(source, "generate", args.seed, args.difficulty)
            play(source, env_str, sys.stdin, sys.stdout, pool)
        except SandboxError as exc:
            sys.exit(f"the environment failed: {exc}")


if __name__ == "__main__":
    main()
