"""An OpenAI-compatible engine that answers at once: every chat completion
streams max_tokens one-word chunks with no computation between them. In
front of it, what `sovereign serve --engine` adds to time to first token and
to each token is the transport's own cost, free of a real engine's noise.

Usage: instant_engine.py PORT
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Engine(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status, value):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path in ("/health", "/v1/health"):
            return self.send_json(200, {"status": "ok"})
        self.send_json(200, {"object": "list", "data": [{"id": "instant", "object": "model", "owned_by": "bench"}]})

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
        tokens = int(request.get("max_tokens") or 16)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

        def chunk(value):
            data = b"data: " + json.dumps(value).encode() + b"\n\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        base = {"id": "chatcmpl-instant", "object": "chat.completion.chunk", "created": 0, "model": "instant"}
        for i in range(tokens):
            chunk({**base, "choices": [{"index": 0, "delta": {"content": " word"}, "finish_reason": None}]})
        chunk({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
        chunk({**base, "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": tokens, "total_tokens": tokens + 1}})
        done = b"data: [DONE]\n\n"
        self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))
        self.wfile.flush()


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Engine).serve_forever()
