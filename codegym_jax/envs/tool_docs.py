"""Static extraction of an environment's tools from its source, and their prompt renderings.

Env code is untrusted, so it is only parsed with `ast`, never imported. Tool names come from the
class's `func_mapping` dict literal; each tool's signature from its method definition and its
documentation from the method's r\"\"\" docstring with `Args:`, `Returns:` and `Example Output:`.
"""

import ast
import dataclasses
import inspect
import re


@dataclasses.dataclass(frozen=True)
class ToolParam:
    name: str
    type: str | None
    description: str
    required: bool = True


@dataclasses.dataclass(frozen=True)
class ToolDoc:
    name: str
    params: tuple[ToolParam, ...]
    description: str
    returns: str
    example_output: str | None
    signature: str  # "Name(a: int, b=2) -> str", as written in the source
    docstring: str = ""  # cleaned (dedented) docstring
    # The docstring's lines as laid out in the source, shifted left by the method's indentation
    # (what upstream prompts show, blank-line whitespace included); "" for one-line docstrings.
    docstring_as_written: str = ""


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    class_name: str
    tools: tuple[ToolDoc, ...]
    task_description: str | None

    def tool(self, name: str) -> ToolDoc:
        for tool in self.tools:
            if tool.name == name:
                return tool
        raise KeyError(f"{self.class_name} has no tool {name!r}; tools: {[t.name for t in self.tools]}")


_SECTION = re.compile(r"^(Args|Arguments|Parameters|Returns|Return|Example Output|Example|Examples)\s*:\s*$")
_ARG_LINE = re.compile(r"^(\*{0,2}\w+)\s*(?:\(([^)]*(?:\)[^)]*)?)\))?\s*:\s*(.*)$")


def _find_func_mapping(cls: ast.ClassDef) -> list[str] | None:
    for node in ast.walk(cls):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if (isinstance(target, ast.Attribute) and target.attr == "func_mapping"
                        or isinstance(target, ast.Name) and target.id == "func_mapping"):
                    if not isinstance(node.value, ast.Dict):
                        raise ValueError(f"{cls.name}.func_mapping is not a dict literal "
                                         f"(line {node.lineno})")
                    names = []
                    for key in node.value.keys:
                        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                            raise ValueError(f"{cls.name}.func_mapping has a non-string key "
                                             f"(line {node.lineno})")
                        names.append(key.value)
                    return names
    return None


def _split_sections(doc: str) -> dict[str, list[str]]:
    sections = {"description": []}
    current = "description"
    for line in doc.splitlines():
        match = _SECTION.match(line.strip())
        if match and not line.startswith((" ", "\t")):
            head = match.group(1)
            current = {"Arguments": "Args", "Parameters": "Args", "Return": "Returns",
                       "Example": "Example Output", "Examples": "Example Output"}.get(head, head)
            sections[current] = []
        else:
            sections[current].append(line)
    return sections


def _parse_args(lines: list[str]) -> dict[str, tuple[str | None, str]]:
    parsed: dict[str, list] = {}
    last = None
    for line in inspect.cleandoc("\n".join(lines)).splitlines():
        stripped = line.strip()
        if not stripped or stripped == "None":
            continue
        match = _ARG_LINE.match(stripped) if not line.startswith((" ", "\t")) else None
        if match:
            last = match.group(1).lstrip("*")
            parsed[last] = [match.group(2), match.group(3).strip()]
        elif last is not None:
            parsed[last][1] = (parsed[last][1] + " " + stripped).strip()
    return {name: (kind.strip() if kind else None, text) for name, (kind, text) in parsed.items()}


def _signature(fn: ast.FunctionDef) -> tuple[str, list[tuple[str, str | None, bool]]]:
    args = fn.args
    positional = args.posonlyargs + args.args
    if positional and positional[0].arg in ("self", "cls"):
        positional = positional[1:]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    parts, params = [], []
    for arg, default in zip(positional, defaults):
        annotation = ast.unparse(arg.annotation) if arg.annotation is not None else None
        text = arg.arg + (f": {annotation}" if annotation else "")
        if default is not None:
            text += (" = " if annotation else "=") + ast.unparse(default)
        parts.append(text)
        params.append((arg.arg, annotation, default is None))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        annotation = ast.unparse(arg.annotation) if arg.annotation is not None else None
        parts.append(arg.arg + (f": {annotation}" if annotation else "")
                     + ("" if default is None else "=" + ast.unparse(default)))
        params.append((arg.arg, annotation, default is None))
    returns = f" -> {ast.unparse(fn.returns)}" if fn.returns is not None else ""
    return f"{fn.name}({', '.join(parts)}){returns}", params


def _tool_doc(fn: ast.FunctionDef) -> ToolDoc:
    raw = ast.get_docstring(fn, clean=False) or ""
    doc = inspect.cleandoc(raw)
    sections = _split_sections(doc)
    signature, sig_params = _signature(fn)
    documented = _parse_args(sections.get("Args", []))
    params = tuple(
        ToolParam(name, documented.get(name, (None, ""))[0] or annotation,
                  documented.get(name, (None, ""))[1], required)
        for name, annotation, required in sig_params)
    example = sections.get("Example Output")
    return ToolDoc(
        name=fn.name,
        params=params,
        description=inspect.cleandoc("\n".join(sections["description"])),
        returns=inspect.cleandoc("\n".join(sections.get("Returns", []))),
        example_output=inspect.cleandoc("\n".join(example)) if example else None,
        signature=signature,
        docstring=doc,
        docstring_as_written=_as_written(raw, fn.col_offset),
    )


def _task_description(tree: ast.Module) -> str | None:
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "TASK_DESCRIPTION"):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                raise ValueError(f"TASK_DESCRIPTION is not a string literal (line {node.lineno})") from None
            if not isinstance(value, str):
                raise ValueError(f"TASK_DESCRIPTION must be a str, got {type(value).__name__}")
            return inspect.cleandoc(value)
    return None


def extract_env_spec(source: str, class_name: str | None = None) -> EnvSpec:
    """Tools of the env class in `source` (the one with a func_mapping; `class_name` picks one
    when several exist). Raises ValueError when no class or a mapped tool method is missing."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ValueError(f"env source does not parse: {exc.msg} (line {exc.lineno})") from None
    candidates = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and (class_name is None or node.name == class_name):
            names = _find_func_mapping(node)
            if names is not None:
                candidates.append((node, names))
    if not candidates:
        what = f"class {class_name!r} with" if class_name else "class with"
        raise ValueError(f"env source has no {what} a func_mapping")
    if len(candidates) > 1:
        raise ValueError(f"env source has several env classes {[c.name for c, _ in candidates]}; "
                         "pass class_name")
    cls, names = candidates[0]
    methods = {n.name: n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    missing = [name for name in names if name not in methods]
    if missing:
        raise ValueError(f"{cls.name}.func_mapping names tools without a method: {missing}")
    return EnvSpec(cls.name, tuple(_tool_doc(methods[name]) for name in names), _task_description(tree))


def _as_written(raw: str, indent: int) -> str:
    lines = raw.split("\n")
    if len(lines) < 3 or lines[0].strip() or lines[-1].strip():
        return ""
    pad = " " * indent
    return "\n".join(line[indent:] if line.startswith(pad) else line.lstrip(" ") for line in lines)


def _as_written_without_example(text: str) -> str:
    lines = text.split("\n")
    kept, skip_indent = [], None
    for number, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        header = _SECTION.match(stripped)
        if header and stripped.startswith("Example"):
            skip_indent = indent
            continue
        if skip_indent is not None:
            if number == len(lines) - 1 or (header and indent == skip_indent):
                skip_indent = None
            else:
                continue
        kept.append(line)
    return "\n".join(kept)


def _docstring_without_example(doc: str) -> str:
    kept, skipping = [], False
    for line in doc.splitlines():
        if _SECTION.match(line.strip()) and not line.startswith((" ", "\t")):
            skipping = line.strip().startswith("Example")
        if not skipping:
            kept.append(line)
    return "\n".join(kept).rstrip()


def render_tool_doc(tool: ToolDoc, with_examples: bool = True) -> str:
    if tool.docstring_as_written:
        text = tool.docstring_as_written
        if not with_examples:
            text = _as_written_without_example(text)
        return f'Function:\n\ndef {tool.signature}:\n    r"""{text}"""'
    doc = tool.docstring if with_examples else _docstring_without_example(tool.docstring)
    body = "\n".join(("    " + line) if line.strip() else "" for line in doc.splitlines())
    return f'Function:\n\ndef {tool.signature}:\n    r"""\n\n{body}\n\n    """'


def render_tool_docs(spec: EnvSpec, with_examples: bool = True) -> str:
    """The codegym system-prompt block: one "Function:" block per tool, in func_mapping order."""
    return "\n\n".join(render_tool_doc(tool, with_examples) for tool in spec.tools) + "\n"


_JSON_TYPES = {"int": "integer", "integer": "integer", "float": "number", "number": "number",
               "str": "string", "string": "string", "bool": "boolean", "boolean": "boolean",
               "list": "array", "tuple": "array", "array": "array", "dict": "object",
               "object": "object", "none": "null"}


def _json_schema_for(type_text: str | None) -> dict:
    if not type_text:
        return {}
    text = type_text.replace("typing.", "").strip()
    if "|" in text or text.lower().startswith(("union[", "optional[")):
        inner = text.split("[", 1)[1].rstrip("]") if "[" in text and not "|" in text else text
        options = [_json_schema_for(t.strip()) for t in re.split(r"[|,]", inner)]
        return {"anyOf": [o for o in options if o]} if all(options) else {}
    head, _, rest = text.partition("[")
    kind = _JSON_TYPES.get(head.strip().lower())
    if kind is None:
        return {}
    schema = {"type": kind}
    if kind == "array" and rest:
        item = _json_schema_for(rest.rstrip("]").split(",")[0])
        if item:
            schema["items"] = item
    return schema


def tool_json_schemas(spec: EnvSpec) -> list[dict]:
    """OpenAI/Qwen function-tool schemas, one per tool."""
    schemas = []
    for tool in spec.tools:
        properties = {}
        for param in tool.params:
            prop = _json_schema_for(param.type)
            if param.description:
                prop["description"] = param.description
            properties[param.name] = prop
        description = tool.description
        if tool.returns:
            description += f"\nReturns: {tool.returns}"
        schemas.append({"type": "function", "function": {
            "name": tool.name,
            "description": description,
            "parameters": {"type": "object", "properties": properties,
                           "required": [p.name for p in tool.params if p.required]},
        }})
    return schemas
