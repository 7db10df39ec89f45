"""Import-time fixes for sglang-jax 0.0.2 on CPU, loaded by the sglang-jax server processes.

`sglang_launcher.py` puts this directory on PYTHONPATH of the server it starts (and sglang-jax's
spawned scheduler/detokenizer children inherit it), so Python imports this module at start-up.
Nothing installed is edited: a meta-path hook waits for `sgl_jax.srt.layers.sampler`,
`sgl_jax.srt.model_executor.model_runner` and `sgl_jax.srt.models.qwen2` to be imported and then
replaces, in memory, the functions and methods named below.

1. `_apply_min_p_filter(operands)` unpacks two values, but the CPU sampling path passes a 3-tuple
   `(probs_sort, min_ps, False)`. `lax.cond` traces both branches, so every non-greedy request
   fails while tracing. The replacement reads the first two operands.
2. In a prefill (extend) batch with `return_logprob`, the logits processor returns one row of
   next-token logits per *real* request, while the sampling metadata (temperatures, top-k, ...)
   is padded to the largest batch bucket; `_regular_sampling` then asserts on the mismatch. The
   wrapped `Sampler.__call__` pads the logits rows with zeros up to the padded batch; the padded
   rows' samples are discarded by the scheduler, which keeps the first `real_bs` results.
3. Sampled-token log-probs never leave the jitted sampler: `Sampler._process_logprob_results`
   assigns them to an attribute of its input inside `lax.cond`, which does not escape `jax.jit`,
   so `return_logprob` requests crash the scheduler (`next_token_logprobs` is None). The wrapped
   `Sampler.__call__` returns `(token_ids, token_logprobs)` and the wrapped `ModelRunner.sample`
   stores the log-probs on the logits output outside the jit. The log-probs are those of the
   distribution the token was drawn from before top-k/top-p/min-p truncation: softmax(logits / T)
   (plain softmax for greedy batches), as sglang-jax's own sampler intends.
4. The sampler's random stream never advances: `ModelRunner` binds the sampler's nnx state
   (an RNG key and a uint32 call count) into a `functools.partial` once, and the count the
   jitted call increments is thrown away, so every sampling step draws the same noise (the same
   rank gets picked step after step, and equal requests give equal "samples"). The wrapped
   `ModelRunner.sample` passes the RNG count leaf as a host-side counter that grows by one per
   call; it is a jit argument, so nothing recompiles.
5. `Qwen2ForCausalLM` builds its untied `lm_head` without a dtype, so it is bfloat16 whatever
   `--dtype` says, and float32 log-probs come out ~1e-3 off. The wrapped `__init__` rebuilds the
   head in the model's dtype (before any weights are loaded).

Must stay importable without sgl_jax or jax installed (only the hook is installed here).
"""

import importlib.abc
import importlib.util
import sys

_SAMPLER_MODULE = "sgl_jax.srt.layers.sampler"
_MODEL_RUNNER_MODULE = "sgl_jax.srt.model_executor.model_runner"
_QWEN2_MODULE = "sgl_jax.srt.models.qwen2"


def _fixed_apply_min_p_filter(operands):
    import jax.numpy as jnp
    from sgl_jax.srt.utils.jax_utils import is_tpu_runtime

    probs, min_ps = operands[0], operands[1]
    if is_tpu_runtime():
        thresholds = jnp.max(probs, axis=1) * min_ps
    else:
        thresholds = probs[:, 0] * min_ps  # CPU path: probs are sorted descending
    return jnp.where(probs < thresholds.reshape(-1, 1), 0.0, probs)


def _sampler_call_returning_logprobs(original_call):
    def call(self, logits_output, sampling_metadata, positions):
        import jax
        import jax.numpy as jnp

        logits = logits_output.next_token_logits
        padded_rows = sampling_metadata.temperatures.shape[0]
        if logits.ndim == 2 and logits.shape[0] < padded_rows:
            logits = jnp.pad(logits, ((0, padded_rows - logits.shape[0]), (0, 0)))
            logits_output.next_token_logits = logits
        token_ids = original_call(self, logits_output, sampling_metadata, positions)
        logits = logits.reshape(-1, logits.shape[-1]).astype(jnp.float32)
        temperatures = sampling_metadata.temperatures.reshape(-1, 1).astype(jnp.float32)
        scaled = jnp.where(sampling_metadata.is_all_greedy, logits, logits / temperatures)
        logprobs = jax.nn.log_softmax(scaled, axis=-1)
        rows = jnp.arange(token_ids.shape[0])
        return token_ids, logprobs[rows, token_ids]

    return call


def _model_runner_sample_storing_logprobs(self, logits_output, sampling_metadata, positions):
    import jax.numpy as jnp
    import numpy as np

    bound = self.jitted_sampler  # partial(jitted_sampler, sampler_def, state_def, state_leaves)
    sampler_def, state_def, leaves = bound.args
    self._codegym_sample_calls = getattr(self, "_codegym_sample_calls", 0) + 1
    leaves = [
        jnp.asarray(self._codegym_sample_calls, dtype=leaf.dtype)
        if leaf.shape == () and leaf.dtype == np.uint32  # nnx RngCount
        else leaf
        for leaf in leaves
    ]
    token_ids, token_logprobs = bound.func(
        sampler_def, state_def, leaves, logits_output, sampling_metadata, positions
    )
    if sampling_metadata.return_logprob:
        logits_output.next_token_logprobs = token_logprobs
    return token_ids


def _patch_sampler_module(module):
    module._apply_min_p_filter = _fixed_apply_min_p_filter
    module.Sampler.__call__ = _sampler_call_returning_logprobs(module.Sampler.__call__)


def _patch_model_runner_module(module):
    module.ModelRunner.sample = _model_runner_sample_storing_logprobs


def _patch_qwen2_module(module):
    original_init = module.Qwen2ForCausalLM.__init__

    def init(self, config, dtype=None, rngs=None, mesh=None, **kwargs):
        if dtype is None:
            original_init(self, config, rngs=rngs, mesh=mesh, **kwargs)
        else:
            original_init(self, config, dtype=dtype, rngs=rngs, mesh=mesh, **kwargs)
        if hasattr(self, "lm_head"):
            self.lm_head = module.ParallelLMHead(
                config.vocab_size, config.hidden_size, dtype=self.dtype, param_dtype=self.dtype, rngs=rngs
            )

    module.Qwen2ForCausalLM.__init__ = init


_PATCHES = {
    _SAMPLER_MODULE: _patch_sampler_module,
    _MODEL_RUNNER_MODULE: _patch_model_runner_module,
    _QWEN2_MODULE: _patch_qwen2_module,
}


class _PatchOnImport(importlib.abc.MetaPathFinder):
    def __init__(self):
        self._pending = dict(_PATCHES)

    def find_spec(self, name, path, target=None):
        patch = self._pending.pop(name, None)
        if patch is None:
            return None
        if not self._pending:
            sys.meta_path.remove(self)
        # find_spec of the other finders; this one no longer answers for `name`.
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            patch(module)

        spec.loader.exec_module = exec_and_patch
        return spec


sys.meta_path.insert(0, _PatchOnImport())
