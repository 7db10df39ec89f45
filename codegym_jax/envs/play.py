"""Try an environment by hand.

    python -m codegym_jax.envs.play tools ENV_FILE [--examples] [--json]
    python -m codegym_jax.envs.play play ENV_FILE (--env-str 'Name@{...}' | [--seed 0] [--difficulty easy])
    python -m codegym_jax.envs.play play --ability 'codegym_v1@{code_id}__Name@{...}' --env-dir DIR
    python -m codegym_jax.envs.play play --record '{"ability": "codegym_v1@...", ...}' --env-dir DIR
    python -m codegym_jax.envs.play play --record RECORDS.jsonl:LINE [--env-dir DIR]

`tools` prints the tool docs as the model sees them (read statically, nothing is executed).
`play` runs the env in the sandbox and reads tool calls from stdin, one per line, either JSON
({"name": "GetItem", "parameters": {"index": 0}}) or `GetItem index=0` (values read as JSON when
they parse, else as text). `:tools`, `:oracle` (run the env's solve() on this task), `:quit`.

Released CodeGym data (env files without generate()) is played from a training record's `ability`,
given as is, inside one JSON record line, or as a 1-based line of a JSONL record file; the env file
is `{code_id}__{Name}.py` in --env-dir (by default the record file's folder). ENV_FILE may be given
instead of --env-dir, as long as it defines the ability's env class.
"""

import argparse
import json
import os
import re
import sys

from codegym_jax.envs.released import parse_record
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


def play(source: str, env_str: str, lines, out, pool: SandboxPool, task: str | None = None) -> int:
    """Interactive loop; returns the number of tool calls made. `task`: the question shown first."""
    spec = extract_env_spec(source)
    session = pool.open_session(source, env_str)
    if task:
        out.write(f"task: {task}\n")
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


def read_env_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        sys.exit(f"cannot read env file {path}: {exc.strerror or exc}")


def parse_record_line(text: str, where: str) -> dict:
    """One training record from a line of JSON text; `where` names the line in errors."""
    if not text.strip():
        sys.exit(f"{where} is blank, not a JSON record")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        sys.exit(f"{where} is not JSON ({exc}): {text.strip()[:80]!r}")
    if not isinstance(record, dict):
        sys.exit(f"{where} is a JSON {type(record).__name__}, not a record object: {text.strip()[:80]!r}")
    return record


def read_record_arg(value: str, parser: argparse.ArgumentParser) -> tuple[dict, str, str | None]:
    """The record --record names: (record, where, its record file's folder; None for JSON text)."""
    if value.lstrip().startswith("{"):
        return parse_record_line(value, "the --record line"), "the --record line", None
    path, sep, line = value.rpartition(":")
    if not sep or not path or not line.isdigit() or int(line) < 1:
        parser.error(f"--record takes one JSON record line or FILE:LINE (LINE counted from 1), got {value[:120]!r}")
    if not os.path.isfile(path):
        sys.exit(f"--record {value}: record file {path} does not exist")
    number, count = int(line), 0
    # Lines before LINE are skipped undecoded (jsonl.iter_numbered_records would decode them all:
    # a released record file holds tens of thousands of long records, and one broken record
    # elsewhere in it should not stop this one from being played).
    with open(path, encoding="utf-8") as f:
        for count, text in enumerate(f, 1):
            if count == number:
                where = f"{path}:{number}"
                return parse_record_line(text, where), where, os.path.dirname(path) or "."
    sys.exit(f"--record {value}: line {number} is past the end of {path} ({count} lines)")


def released_episode(args, parser: argparse.ArgumentParser) -> tuple[str, str, str, str | None]:
    """(env file, env class name, env_str, task question) of the --ability or --record given."""
    record, where, record_dir = {"ability": args.ability}, "--ability", None
    if args.record is not None:
        record, where, record_dir = read_record_arg(args.record, parser)
    env_dir = args.env_dir if args.env_dir is not None else record_dir
    if args.env_file is None and env_dir is None:
        parser.error(f"{where} needs --env-dir DIR, the folder of its {{code_id}}__{{Name}}.py env file "
                     f"(or give the env file as ENV_FILE)")
    try:
        parsed = parse_record(where, record, None if args.env_file is not None else env_dir)
    except ValueError as exc:
        sys.exit(str(exc))
    return args.env_file or parsed.env_file, parsed.env_name, parsed.env_str, parsed.question


def check_env_class(source: str, env_file: str, env_name: str) -> None:
    """Exit unless `source` defines the env class the ability names (ENV_FILE may be any file)."""
    try:
        extract_env_spec(source, env_name)
    except ValueError as exc:
        classes = re.findall(r"^class\s+(\w+)", source, re.MULTILINE)
        sys.exit(f"{env_file} does not define the ability's env class {env_name!r} ({exc}); "
                 f"its classes: {classes}")


def check_play_options(args, parser: argparse.ArgumentParser) -> None:
    """Options that argparse alone cannot tell apart (--env-str/--ability/--record are exclusive)."""
    released = args.ability is not None or args.record is not None
    if (args.seed is not None or args.difficulty is not None) and (released or args.env_str is not None):
        parser.error("--seed/--difficulty pick a generate() task; they do not go with --env-str, --ability "
                     "or --record")
    if args.env_dir is not None and not released:
        parser.error("--env-dir is where --ability/--record find their env file; give one of them")
    if args.env_dir is not None and args.env_file is not None:
        parser.error(f"give ENV_FILE ({args.env_file}) or --env-dir ({args.env_dir}), not both")
    if args.env_file is None and not released:
        parser.error("give ENV_FILE, or --ability/--record to find the env file in --env-dir")


def build_parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The CLI parser and its `play` subparser (whose usage the play errors show)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    tools = commands.add_parser("tools", help="list the tools of an env file")
    tools.add_argument("env_file")
    tools.add_argument("--examples", action="store_true", help="include Example Output sections")
    tools.add_argument("--json", action="store_true", help="print JSON schemas instead")
    session = commands.add_parser("play", help="play an env interactively")
    session.add_argument("env_file", nargs="?", help="the env file (optional with --ability/--record)")
    task = session.add_mutually_exclusive_group()
    task.add_argument("--env-str", help="the task, 'Name@{...}'")
    task.add_argument("--ability", help="a released record's ability, 'codegym_v1@{code_id}__Name@{...}'")
    task.add_argument("--record", help="a released record: one JSON line, or FILE:LINE of a JSONL file (from 1)")
    session.add_argument("--env-dir", help="folder of the {code_id}__{Name}.py env files (default with "
                                           "--record FILE:LINE: FILE's folder)")
    session.add_argument("--seed", type=int, help="generate() seed (default 0)")
    session.add_argument("--difficulty", choices=("easy", "medium", "hard"), help="generate() difficulty "
                                                                                  "(default easy)")
    return parser, session


def main(argv=None) -> None:
    parser, play_parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "tools":
        spec = extract_env_spec(read_env_file(args.env_file))
        if spec.task_description:
            print(f"# {spec.class_name}\n{spec.task_description}\n")
        print(json.dumps(tool_json_schemas(spec), indent=2) if args.json
              else render_tool_docs(spec, with_examples=args.examples))
        return
    check_play_options(args, play_parser)
    task = None
    if args.ability is not None or args.record is not None:
        env_file, env_name, env_str, task = released_episode(args, play_parser)
        source = read_env_file(env_file)
        check_env_class(source, env_file, env_name)
    else:
        source, env_str = read_env_file(args.env_file), args.env_str
    with SandboxPool() as pool:
        try:
            if env_str is None:
                seed = 0 if args.seed is None else args.seed
                env_str = pool.call_function(source, "generate", seed, args.difficulty or "easy")
            play(source, env_str, sys.stdin, sys.stdout, pool, task)
        except SandboxError as exc:
            sys.exit(f"the environment failed: {exc}")


if __name__ == "__main__":
    main()
