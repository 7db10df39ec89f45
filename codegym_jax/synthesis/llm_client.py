"""OpenAI-compatible chat client: many requests in flight, retries with backoff, on-disk cache."""

import asyncio
import concurrent.futures
import hashlib
import json
import os
import urllib.error
import urllib.request
import weakref


class LLMError(RuntimeError):
    pass


class ChatClient:
    """`await complete(messages, n_sample=0)` returns the reply text. Replies are cached under
    cache_dir keyed by the request (URL, model, messages, sampling settings, sample index), so a
    rerun of the pipeline sends nothing. Requests run in threads, at most `max_in_flight` at once."""

    def __init__(self, base_url: str, model: str, api_key: str = "", cache_dir: str | None = None,
                 max_in_flight: int = 32, max_retries: int = 4, backoff_s: float = 1.0,
                 timeout_s: float = 300.0, temperature: float = 0.7, max_tokens: int = 8192):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.api_key, self.cache_dir = model, api_key, cache_dir
        self.max_retries, self.backoff_s, self.timeout_s = max_retries, backoff_s, timeout_s
        self.temperature, self.max_tokens = temperature, max_tokens
        # Own threads for the blocking HTTP calls: the default executor has only cpu_count + 4.
        self._threads = concurrent.futures.ThreadPoolExecutor(max_in_flight, thread_name_prefix="chat")
        self.max_in_flight = max_in_flight
        self._limits = weakref.WeakKeyDictionary()  # loop -> Semaphore (asyncio.run makes new loops)
        self.requests_sent = 0
        self.cache_hits = 0
        if cache_dir:
            os.makedirs(cache_dir, exist_ok=True)

    def _body(self, messages, sample: int) -> dict:
        # `seed` makes the K oracle samples distinct requests (and distinct cache keys).
        return {"model": self.model, "messages": messages, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "seed": sample}

    def _cache_path(self, body: dict) -> str | None:
        if not self.cache_dir:
            return None
        key = hashlib.sha256(json.dumps([self.url, body], sort_keys=True).encode()).hexdigest()
        return os.path.join(self.cache_dir, key + ".json")

    def _post(self, body: dict) -> str:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, json.dumps(body).encode(), headers, method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            reply = json.loads(response.read())
        try:
            return reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise LLMError(f"reply from {self.url} has no choices[0].message.content: {str(reply)[:200]}") from None

    async def complete(self, messages: list[dict], sample: int = 0) -> str:
        body = self._body(messages, sample)
        path = self._cache_path(body)
        if path and os.path.exists(path):
            self.cache_hits += 1
            with open(path, encoding="utf-8") as f:
                return json.load(f)["content"]
        loop = asyncio.get_running_loop()
        limit = self._limits.setdefault(loop, asyncio.Semaphore(self.max_in_flight))
        async with limit:
            last_error = None
            for attempt in range(self.max_retries + 1):
                try:
                    self.requests_sent += 1
                    content = await loop.run_in_executor(self._threads, self._post, body)
                    break
                except urllib.error.HTTPError as exc:
                    last_error = f"HTTP {exc.code} from {self.url}"
                    if exc.code < 500 and exc.code != 429:  # a client error will not heal by retrying
                        raise LLMError(last_error) from None
                except (urllib.error.URLError, OSError, ValueError) as exc:
                    last_error = f"{type(exc).__name__}: {exc}"
                if attempt < self.max_retries:
                    await asyncio.sleep(self.backoff_s * 2 ** attempt)
            else:
                raise LLMError(f"{self.max_retries + 1} attempts failed, last: {last_error}")
        if path:
            tmp = f"{path}.tmp{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump({"request": body, "content": content}, f)
            os.replace(tmp, path)
        return content
