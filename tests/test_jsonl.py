"""The JSONL reader's errors and torn tails, and appends after a writer killed mid-line."""
from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codegym_jax import jsonl, metrics
from codegym_jax.run_paths import RunPaths
from codegym_jax.synthesis import pipeline


def test_records_come_with_their_line_numbers_past_blank_lines(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n\n  \n{"a": 2}\n')
    assert jsonl.numbered_records(path) == [(1, {"a": 1}), (4, {"a": 2})]
    assert jsonl.read_jsonl(path) == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize("text, message", [
    ('{"a": 1}\n{"a": \n{"a": 3}\n', r"a.jsonl:2: not JSON"),
    ('{"a": 1}\n{"a": 2\n', r"a.jsonl:2: not JSON"),  # cut, but its newline was written: not torn
    ('{"a": 1}\n[1, 2]\n', r"a.jsonl:2: a JSON list, not an object"),
    ('"text"\n', r"a.jsonl:1: a JSON str, not an object"),
])
def test_a_bad_line_is_an_error_naming_file_and_line_even_with_torn_tails_allowed(tmp_path, text, message):
    path = tmp_path / "a.jsonl"
    path.write_text(text)
    for torn_tail_ok in (False, True):
        with pytest.raises(ValueError, match=message):
            jsonl.read_jsonl(path, torn_tail_ok=torn_tail_ok)


def test_an_unterminated_broken_last_line_is_torn(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n{"a": 2, "b')
    with pytest.raises(ValueError, match=r"a.jsonl:2: not JSON"):
        jsonl.read_jsonl(path)
    assert jsonl.read_jsonl(path, torn_tail_ok=True) == [{"a": 1}]
    path.write_text('{"a": 1}\n{"a": 2}')  # whole, only the newline missing: kept
    assert jsonl.read_jsonl(path, torn_tail_ok=True) == [{"a": 1}, {"a": 2}]


def test_a_missing_file_is_an_error_unless_allowed(tmp_path):
    with pytest.raises(FileNotFoundError):
        jsonl.read_jsonl(tmp_path / "none.jsonl")
    assert jsonl.read_jsonl(tmp_path / "none.jsonl", missing_ok=True) == []


@pytest.mark.parametrize("existing, kept", [
    ('{"a": 1}\n{"a": 2, "b', [{"a": 1}]),
    ('{"a": 1}\n{"a": 2}', [{"a": 1}, {"a": 2}]),
    ('{"a": 1}\n', [{"a": 1}]),
    ('{"a": ', []),
    ("", []),
    ('{"a": 1}\n{"x": "' + "y" * 200_000, [{"a": 1}]),  # a fragment longer than one read-back chunk
])
def test_append_starts_a_line_of_its_own(tmp_path, existing, kept):
    path = tmp_path / "a.jsonl"
    path.write_text(existing)
    with jsonl.open_append(path) as f:
        f.write(json.dumps({"new": True}) + "\n")
    assert jsonl.read_jsonl(path) == kept + [{"new": True}]


@settings(max_examples=60, deadline=None)
@given(records=st.lists(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=8), max_size=3),
                        min_size=1, max_size=5),
       cut=st.integers(min_value=0, max_value=10_000))
def test_append_after_a_kill_at_any_byte_keeps_every_whole_record(tmp_path_factory, records, cut):
    path = tmp_path_factory.mktemp("kill") / "a.jsonl"
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    cut = cut % (len(data) + 1)
    path.write_bytes(data[:cut])
    whole = data[:cut].count(b"\n")
    with jsonl.open_append(path) as f:
        f.write(json.dumps({"after": "restart"}) + "\n")
    rows = jsonl.read_jsonl(path)
    assert rows[-1] == {"after": "restart"}
    # Every record written whole before the kill is still there, in order; a record cut
    # exactly before its newline is whole JSON and is kept too.
    assert rows[:whole] == records[:whole] and len(rows) - 1 in (whole, whole + 1)


def test_metrics_writer_resumes_after_a_torn_line(tmp_path):
    with metrics.MetricsWriter(RunPaths(tmp_path), tensorboard=False) as w:
        w.write(1, {"a": 1})
    with open(RunPaths(tmp_path).metrics_file, "a") as f:
        f.write('{"step": 2, "a"')  # killed mid-write
    with metrics.MetricsWriter(RunPaths(tmp_path), tensorboard=False) as w:
        w.write(2, {"a": 2})
    assert [(r["step"], r["a"]) for r in metrics.read_metrics(RunPaths(tmp_path))] == [(1, 1.0), (2, 2.0)]


def test_synthesis_stage_redoes_the_item_whose_record_was_torn(tmp_path):
    path = tmp_path / "checks.jsonl"
    path.write_text(json.dumps({"id": "p1", "ok": True}) + "\n" + '{"id": "p2", "ok": tr')
    ran = []

    async def work(item):
        ran.append(item["id"])
        return {"id": item["id"], "ok": True, "rerun": True}

    records = asyncio.run(pipeline._run_stage(str(tmp_path), "checks", [{"id": "p1"}, {"id": "p2"}], work))
    assert ran == ["p2"]
    assert records == [{"id": "p1", "ok": True}, {"id": "p2", "ok": True, "rerun": True}]
    assert jsonl.read_jsonl(path) == records
