"""The BFCL harness (bfcl-eval in .venv-bfcl, run by codegym_jax.bfcl_harness) against a scripted
model on a real loopback OpenAI server (tests/bfcl_scripted_server.py): BFCL's own ground truth
must grade 100%, calls to a function that does not exist 0%, and the wrong run reuses the right
run's folder, so results mixed across runs would show. Two runs of bfcl, about 20 s each here."""
import json
import pathlib
import socket
import time

import pytest

from bfcl_scripted_server import scripted_server
from codegym_jax.bfcl_harness import DEFAULT_BFCL_VENV, OFFLINE_CATEGORIES, find_bfcl_venv, run_bfcl, score_table

CATEGORIES = ("simple_python", "parallel")
IDS_PER_CATEGORY = 4
# Read by bfcl only for its tokenizer (to count prompt tokens) and max_position_embeddings.
MODEL_DIR = pathlib.Path(__file__).resolve().parents[1] / "experiments" / "tiny_base"

needs_bfcl = pytest.mark.skipif(not (DEFAULT_BFCL_VENV / "bin" / "bfcl").exists(),
                                reason=f"{DEFAULT_BFCL_VENV} absent; make it with ./setup.sh --bfcl")


def scripted_run(out_dir, wrong):
    requests = []
    start = time.monotonic()
    with scripted_server(CATEGORIES, wrong=wrong, requests=requests) as base_url:
        scores = run_bfcl(base_url, MODEL_DIR, out_dir, CATEGORIES, ids_per_category=IDS_PER_CATEGORY,
                          num_threads=8, timeout_s=600)
    print(f"bfcl on the scripted model (wrong={wrong}): {time.monotonic() - start:.1f} s")
    return scores, requests


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("bfcl")
    right = scripted_run(out_dir, wrong=False)
    record = json.loads((out_dir / "scores.json").read_text())
    wrong = scripted_run(out_dir, wrong=True)
    return {"right": right, "right_record": record, "wrong": wrong}


@needs_bfcl
def test_ground_truth_scores_full_marks(runs):
    scores, requests = runs["right"]
    assert scores == {c: {"accuracy": 1.0, "correct": IDS_PER_CATEGORY, "total": IDS_PER_CATEGORY, "errors": 0}
                      for c in CATEGORIES}
    record = runs["right_record"]
    assert record["scores"] == scores and record["generate_s"] > 0 and record["evaluate_s"] > 0
    # What bfcl's Qwen FC handler sends: the model folder as `model`, and no stop sequences.
    assert len(requests) == len(CATEGORIES) * IDS_PER_CATEGORY
    for body in requests:
        assert set(body) == {"model", "prompt", "max_tokens", "temperature"}
        assert body["model"] == str(MODEL_DIR.resolve()) and body["temperature"] == 0.0
        assert 0 < body["max_tokens"] <= 4096 and body["prompt"].endswith("<|im_start|>assistant\n")


@needs_bfcl
def test_calls_to_a_missing_function_score_zero(runs):
    scores, _ = runs["wrong"]
    assert scores == {c: {"accuracy": 0.0, "correct": 0, "total": IDS_PER_CATEGORY, "errors": 0}
                      for c in CATEGORIES}
    table = score_table({"ground truth": runs["right"][0], "wrong": scores})
    assert "| ground truth | 100.0% | 100.0% | 100.0% |" in table and "| wrong | 0.0% | 0.0% | 0.0% |" in table


def test_unknown_category_raises_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match=r"'live_simple'.*simple_python, simple_java"):
        run_bfcl("http://127.0.0.1:9/v1", MODEL_DIR, tmp_path / "out", ["simple_python", "live_simple"])
    assert not (tmp_path / "out").exists()


def test_missing_venv_names_the_setup_flag(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no-venv.*\./setup\.sh --bfcl"):
        find_bfcl_venv(tmp_path / "no-venv")


@needs_bfcl
def test_unreachable_server_raises_instead_of_waiting(tmp_path):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectionError, match=f"127.0.0.1:{port}/v1"):
        run_bfcl(f"http://127.0.0.1:{port}/v1", MODEL_DIR, tmp_path, ["simple_python"])


@needs_bfcl
def test_results_it_did_not_write_are_left_alone(tmp_path):
    (tmp_path / "result").mkdir()
    (tmp_path / "result" / "keep.json").write_text("{}")
    with pytest.raises(FileExistsError, match="result"):
        run_bfcl("http://127.0.0.1:9/v1", MODEL_DIR, tmp_path, ["simple_python"])
    assert (tmp_path / "result" / "keep.json").read_text() == "{}"


def test_score_table_averages_over_categories():
    table = score_table({"a": {"parallel": {"accuracy": 0.5}, "simple_python": {"accuracy": 0.25}},
                         "b": {"irrelevance": {"accuracy": 1.0}}})
    assert table.splitlines() == ["| policy | simple_python | parallel | irrelevance | overall |",
                                  "|---|---|---|---|---|",
                                  "| a | 25.0% | 50.0% | – | 37.5% |",
                                  "| b | – | – | 100.0% | 100.0% |"]
    assert set(OFFLINE_CATEGORIES) >= {"simple_python", "parallel", "irrelevance"}
