import json
import os
import sys

import pytest

from codegym_jax.envs.tool_docs import extract_env_spec, render_tool_docs, tool_json_schemas

DATA = os.path.join(os.path.dirname(__file__), "data")
UPSTREAM_ENV = os.path.join(os.path.dirname(DATA), "..", "experiments", "released_example", "Toy_00001_I__RunningMaxEnv.py")


def _source():
    with open(UPSTREAM_ENV) as f:
        return f.read()


def test_extracts_tools_in_func_mapping_order():
    spec = extract_env_spec(_source())
    assert spec.class_name == "RunningMaxEnv"
    assert [t.name for t in spec.tools] == ["Observe", "GetItem", "CompareMax", "Done"]
    compare = spec.tool("CompareMax")
    assert compare.signature == "CompareMax(a: int, b: int)"
    assert [(p.name, p.type, p.description) for p in compare.params] == [
        ("a", "int", "First number."), ("b", "int", "Second number.")]
    assert compare.returns == "str: The larger number."
    assert compare.example_output == '"9"'
    assert spec.tool("Observe").params == ()
    assert spec.task_description is None


def test_never_imports_the_code():
    source = "import os\nos._exit(3)\nraise SystemExit\n" + _source()
    modules_before = set(sys.modules)
    spec = extract_env_spec(source)  # would have killed this process if executed
    assert len(spec.tools) == 4
    # Nothing the env imports (gymnasium, ...) was imported by the extraction.
    assert set(sys.modules) == modules_before


def test_render_matches_upstream_prompt_layout():
    spec = extract_env_spec(_source())
    with_examples = render_tool_docs(spec)
    without = render_tool_docs(spec, with_examples=False)
    assert without.count("Function:\n\ndef ") == 4
    assert 'def GetItem(index: int):\n    r"""\n\n    Read one value of the hidden list.\n\n    Args:\n' \
           '        index (int): Position to read, from 0.\n\n    Returns:\n' \
           '        str: The value at that position.\n\n    """' in without
    assert "Example Output" not in without
    assert 'Example Output:\n        "7"' in with_examples
    # the prompt in our upstream-style training record was rendered the same way
    with open(os.path.join(DATA, "upstream_training_records.jsonl")) as f:
        record = json.loads(f.readline())
    assert without in record["prompt"][0]["content"]


def test_json_schemas():
    schemas = {s["function"]["name"]: s["function"] for s in tool_json_schemas(extract_env_spec(_source()))}
    assert schemas["CompareMax"]["parameters"] == {
        "type": "object",
        "properties": {"a": {"type": "integer", "description": "First number."},
                       "b": {"type": "integer", "description": "Second number."}},
        "required": ["a", "b"]}
    assert schemas["Observe"]["parameters"]["properties"] == {}
    assert schemas["Done"]["parameters"]["properties"]["answer"] == {
        "type": "integer", "description": "The largest value of the list."}


OWN_STYLE = '''
TASK_DESCRIPTION = """
    Sum a hidden list.
"""

class SumEnv:
    def __init__(self, env_str=None):
        self.func_mapping = {"Add": 0, "Done": 1}

    def Add(self, xs: list[int], scale: float = 1.0, *, label: str | None = None):
        r"""
        Add numbers.

        Args:
            xs (list[int]): Numbers to add,
                possibly many.
            scale (float): Factor.
            label (str | None): Optional tag.

        Returns:
            str: The sum.
        """

    def Done(self, answer) -> str:
        r"""
        Submit.

        Args:
            answer (int): The sum.

        Returns:
            str: Verdict.
        """
'''


def test_task_description_defaults_and_types():
    spec = extract_env_spec(OWN_STYLE)
    assert spec.task_description == "Sum a hidden list."
    add = spec.tool("Add")
    assert add.signature == "Add(xs: list[int], scale: float = 1.0, label: str | None=None)"
    assert add.params[0].description == "Numbers to add, possibly many."
    schema = tool_json_schemas(spec)[0]["function"]["parameters"]
    assert schema["properties"]["xs"]["type"] == "array"
    assert schema["properties"]["xs"]["items"] == {"type": "integer"}
    assert schema["properties"]["label"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert schema["required"] == ["xs"]
    assert spec.tool("Done").signature == "Done(answer) -> str"


@pytest.mark.parametrize("source, message", [
    ("class A:\n    pass\n", "no class with a func_mapping"),
    ("class A:\n    def __init__(self):\n        self.func_mapping = {'X': 0}\n", "without a method"),
    ("class A:\n    def __init__(self):\n        self.func_mapping = dict(X=0)\n", "not a dict literal"),
    ("def (:\n", "does not parse"),
])
def test_errors(source, message):
    with pytest.raises(ValueError, match=message):
        extract_env_spec(source)


def test_render_keeps_the_docstring_layout_as_written():
    source = (
        "class E:\n"
        "    def __init__(self):\n"
        "        self.func_mapping = {'Pick': 0}\n"
        "    def Pick(self, k: int) -> str:\n"
        '        r"""\n'
        "    \n"
        "        Pick one.\n"
        "        \n"
        "        Args:\n"
        "            k (int): Which.\n"
        "            \n"
        "        Returns:\n"
        "            str: The pick.\n"
        "            \n"
        "        Example Output:\n"
        '            "3"\n'
        '        """\n')
    spec = extract_env_spec(source)
    assert render_tool_docs(spec, with_examples=False) == (
        'Function:\n\ndef Pick(k: int) -> str:\n    r"""\n\n    Pick one.\n    \n    Args:\n'
        '        k (int): Which.\n        \n    Returns:\n        str: The pick.\n        \n    """\n')
    assert 'Example Output:\n        "3"\n    """' in render_tool_docs(spec)
