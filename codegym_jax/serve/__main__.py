"""python -m codegym_jax.serve --model HF_DIR [--host 127.0.0.1] [--port 8000]

Serves /v1/chat/completions, /v1/completions, /v1/models and /health on the JAX sampler.
Loopback by default; another address needs an API key, read from the environment variable
named by --api-key-env (a flag would show in `ps`)."""
from __future__ import annotations

import argparse

from codegym_jax.serve.server import API_KEY_ENV, open_served_model, serve_forever


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="HF folder: config.json, *.safetensors, tokenizer")
    parser.add_argument("--served-model-name", default=None, help="the id /v1/models lists (default: the folder's name)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--api-key-env", default=API_KEY_ENV, help="environment variable holding the API key")
    parser.add_argument("--slots", type=int, default=16, help="sequences decoded together (the batch)")
    parser.add_argument("--max-model-len", type=int, default=8192,
                        help="prompt + completion tokens of one sequence (capped by the model's positions)")
    parser.add_argument("--max-new-tokens", type=int, default=4096,
                        help="most tokens one choice generates; a request asking more gets this many")
    parser.add_argument("--seed", type=int, default=0, help="seeds requests that send none (with their prompt)")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    with open_served_model(args.model, slots=args.slots, max_model_len=args.max_model_len,
                           max_new_tokens=args.max_new_tokens, seed=args.seed,
                           name=args.served_model_name) as model:
        print(f"serving {model.names[0]} on http://{args.host}:{args.port}/v1 "
              f"(context {model.context_len} tokens, {args.slots} slots)", flush=True)
        serve_forever(model, args.host, args.port, args.api_key_env, args.log_level)


if __name__ == "__main__":
    main()
