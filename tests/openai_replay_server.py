"""Loopback HTTP server speaking the OpenAI chat-completions API, replaying recorded completions.

A recording is {"contains": [substrings...], "content": reply text, "fail_first": n (optional)}:
a request is answered by the first recording whose substrings all occur in its messages; its first
`fail_first` requests get HTTP 503 (to exercise client retries); "delay_s" holds each reply back.
No match: HTTP 404. `peak_in_flight` is the most requests the server ever held at once."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ReplayServer:
    def __init__(self, recordings: list[dict]):
        self.recordings = recordings
        self.requests: list[dict] = []
        self._failures_left = [r.get("fail_first", 0) for r in recordings]
        self._lock = threading.Lock()
        self.in_flight = 0
        self.peak_in_flight = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code: int, payload: dict):
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                length = int(self.headers.get("Content-Length", 0))
                try:
                    body = json.loads(self.rfile.read(length))
                    messages = body["messages"]
                except (ValueError, KeyError, TypeError) as exc:
                    return self._send(400, {"error": {"message": f"bad request: {exc}"}})
                with server._lock:
                    server.in_flight += 1
                    server.peak_in_flight = max(server.peak_in_flight, server.in_flight)
                try:
                    code, payload = server.answer(body, "\n".join(str(m.get("content", "")) for m in messages))
                finally:
                    with server._lock:
                        server.in_flight -= 1
                self._send(code, payload)

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._http.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def answer(self, body: dict, text: str) -> tuple[int, dict]:
        with self._lock:
            self.requests.append(body)
            for index, recording in enumerate(self.recordings):
                if all(part in text for part in recording["contains"]):
                    if self._failures_left[index] > 0:
                        self._failures_left[index] -= 1
                        return 503, {"error": {"message": "replay: injected failure"}}
                    break
            else:
                return 404, {"error": {"message": "replay: no recorded completion matches"}}
        time.sleep(recording.get("delay_s", 0.0))
        content = recording["content"]
        return 200, {"id": f"chatcmpl-replay-{len(self.requests)}", "object": "chat.completion",
                     "created": int(time.time()), "model": body.get("model", "replay"),
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": content}}],
                     "usage": {"prompt_tokens": len(text.split()), "completion_tokens": len(content.split()),
                               "total_tokens": len(text.split()) + len(content.split())}}

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description="serve recorded chat completions on loopback")
    parser.add_argument("recordings", help="JSON file: list of recordings")
    args = parser.parse_args()
    with open(args.recordings, encoding="utf-8") as f:
        recordings = json.load(f)
    with ReplayServer(recordings) as replay:
        print(replay.base_url, flush=True)
        threading.Event().wait()
