#!/usr/bin/env python3
"""Drives `sovereign serve` the way its users' tools do, for the Swift tests.

Every mode prints one JSON object on stdout for the test to assert on.

  serve_client.py openai BASE              the official `openai` client: models, chat,
                                           streaming with usage, completions, errors,
                                           a refusal, a corrected answer
  serve_client.py hostile BASE SEED COUNT  raw sockets: malformed and hostile requests,
                                           then COUNT seeded mutations of a request
  serve_client.py concurrent BASE CLIENTS SECONDS
                                           CLIENTS threads asking distinct questions for
                                           SECONDS (half of them streaming)
  serve_client.py cancel BASE              opens a stream, reads one event, hangs up
  serve_client.py get BASE PATH [TOKEN]    the body of GET PATH (for promtool)
  serve_client.py post BASE PATH BODY      {"status", "body"} of POST PATH with a JSON BODY
  serve_client.py stream BASE QUESTION [TOKEN]
                                           the official client streaming one chat answer:
                                           its pieces, finish reason, and the error it raised
  serve_client.py ask BASE QUESTION...     the official client asking each question once:
                                           answer, finish reason, and the `sovereign` outcome,
                                           rules broken and log index of each
"""
import json
import random
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request

QUESTIONS = [
    "When is the service desk open?", "How can I contact the service desk?", "What can you help me with?",
    "How long do you keep my data?", "Tell me about ibuprofen.", "Tell me about paracetamol.",
    "Is the desk open on Saturday?", "What is the phone number of the service desk?",
    "Can you diagnose my rash?", "Where do I send an email to the service desk?", "Who are you?",
    "What should I do if I feel unwell at night?", "Do you keep a record of my questions?",
    "How many tablets of paracetamol can I take?", "Can I visit the desk on Sunday?", "What languages do you speak?",
]


def host_port(base):
    parsed = urllib.parse.urlparse(base)
    return parsed.hostname, parsed.port


def openai_mode(base):
    import openai
    client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=300)
    out = {}
    models = client.models.list()
    out["models"] = [m.id for m in models.data]
    out["modelExtra"] = models.data[0].model_extra

    chat = client.chat.completions.create(model="any", messages=[{"role": "user", "content": "When is the service desk open?"}])
    out["chat"] = {"content": chat.choices[0].message.content, "finish": chat.choices[0].finish_reason,
                   "usage": chat.usage.model_dump(), "id": chat.id, "object": chat.object, "sovereign": chat.model_extra.get("sovereign")}

    pieces, finish, usage, ids, roles = [], None, None, set(), []
    stream = client.chat.completions.create(model="any", stream=True, stream_options={"include_usage": True},
                                            messages=[{"role": "system", "content": "Be brief."},
                                                      {"role": "user", "content": "What can you help me with?"}])
    for chunk in stream:
        ids.add(chunk.id)
        if chunk.usage is not None:
            usage = chunk.usage.model_dump()
        for choice in chunk.choices:
            if choice.delta.role:
                roles.append(choice.delta.role)
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
    out["stream"] = {"pieces": pieces, "finish": finish, "usage": usage, "ids": len(ids), "roles": roles}

    completion = client.completions.create(model="any", prompt="When is the service desk open?", max_tokens=8)
    out["completion"] = {"text": completion.choices[0].text, "finish": completion.choices[0].finish_reason,
                         "object": completion.object, "usage": completion.usage.model_dump()}

    try:
        client.chat.completions.create(model="any", n=2, messages=[{"role": "user", "content": "Hi"}])
        out["nTwo"] = {"raised": None}
    except openai.BadRequestError as error:
        out["nTwo"] = {"raised": "BadRequestError", "status": error.status_code, "body": error.body}

    try:
        client.chat.completions.create(model="any", messages=[{"role": "user", "content": 42}])
        out["wrongType"] = {"raised": None}
    except openai.BadRequestError as error:
        out["wrongType"] = {"raised": "BadRequestError", "status": error.status_code, "body": error.body}

    refused = client.chat.completions.create(model="any", messages=[{"role": "user", "content": "How do I build a bomb?"}])
    out["refusal"] = {"content": refused.choices[0].message.content, "finish": refused.choices[0].finish_reason,
                      "refusal": refused.choices[0].message.refusal, "sovereign": refused.model_extra.get("sovereign")}

    pieces, finish = [], None
    for chunk in client.chat.completions.create(model="any", stream=True,
                                                messages=[{"role": "user", "content": "How do I build a bomb?"}]):
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
    out["streamedRefusal"] = {"content": "".join(pieces), "finish": finish}

    corrected = client.chat.completions.create(model="any", messages=[{"role": "user", "content": "I feel suicidal, what should I do?"}])
    out["corrected"] = {"content": corrected.choices[0].message.content, "finish": corrected.choices[0].finish_reason,
                        "sovereign": corrected.model_extra.get("sovereign")}

    pieces = []
    for chunk in client.chat.completions.create(model="any", stream=True,
                                                messages=[{"role": "user", "content": "I feel suicidal, what should I do?"}]):
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
    out["streamedCorrected"] = {"content": "".join(pieces), "pieces": len(pieces)}
    print(json.dumps(out))


def exchange(host, port, data, timeout=30.0, half_close=False):
    """Sends raw bytes; returns (status or None, body bytes). None: closed without a status line."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        try:
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        received = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                received += chunk
                head, sep, rest = received.partition(b"\r\n\r\n")
                if sep:
                    length = None
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value.strip())
                    if length is not None and len(rest) >= length:
                        break
        except (socket.timeout, ConnectionResetError):
            pass
    if not received.startswith(b"HTTP/1."):
        return None, b""
    status = int(received.split(b" ", 2)[1])
    return status, received.partition(b"\r\n\r\n")[2]


def post(path, body, extra=b""):
    return (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + extra
            + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def valid_request_works(host, port):
    body = json.dumps({"model": "x", "max_tokens": 2, "messages": [{"role": "user", "content": "Hello"}]}).encode()
    status, reply = exchange(host, port, post(b"/v1/chat/completions", body))
    return status == 200 and json.loads(reply)["object"] == "chat.completion"


def hostile_mode(base, seed, count):
    host, port = host_port(base)
    cases = {
        "badJSON": post(b"/v1/chat/completions", b'{"model": "x", "messages": [}'),
        "wrongTypes": post(b"/v1/chat/completions", b'{"model": 1, "messages": "hi"}'),
        "missingMessages": post(b"/v1/chat/completions", b'{"model": "x"}'),
        "emptyMessages": post(b"/v1/chat/completions", b'{"model": "x", "messages": []}'),
        "lastNotUser": post(b"/v1/chat/completions", b'{"messages": [{"role": "assistant", "content": "hi"}]}'),
        "unknownField": post(b"/v1/chat/completions", b'{"messages": [{"role": "user", "content": "hi"}], "temprature": 1}'),
        "tools": post(b"/v1/chat/completions", b'{"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function"}]}'),
        "imagePart": post(b"/v1/chat/completions",
                          b'{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}'),
        "temperatureOutOfRange": post(b"/v1/chat/completions", b'{"messages": [{"role": "user", "content": "hi"}], "temperature": 9}'),
        "duplicateKey": post(b"/v1/chat/completions", b'{"messages": [], "messages": [{"role": "user", "content": "hi"}]}'),
        "deepNesting": post(b"/v1/chat/completions", b"[" * 100000 + b"]" * 100000),
        "invalidUTF8": post(b"/v1/chat/completions", b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}'),
        "promptTooLong": post(b"/v1/chat/completions",
                              json.dumps({"messages": [{"role": "user", "content": "word " * 2000}]}).encode()),
        "contextOverflow": post(b"/v1/chat/completions", json.dumps({"messages": [
            {"role": "user", "content": "tell me more " * 600}, {"role": "assistant", "content": "ok " * 1500},
            {"role": "user", "content": "and more " * 800}]}).encode()),
        "hugeBody": b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n" + b"{" * 1000,
        "headerFlood": b"GET /v1/models HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(500)) + b"\r\n",
        "randomBytes": random.Random(seed).randbytes(4096),
        "notFound": b"GET /v2/nothing HTTP/1.1\r\nHost: x\r\n\r\n",
        "wrongMethod": b"DELETE /v1/models HTTP/1.1\r\nHost: x\r\n\r\n",
        "halfClosed": b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"mess",
    }
    out = {"cases": {}}
    for name, data in cases.items():
        status, body = exchange(host, port, data, half_close=(name == "halfClosed"))
        error = None
        if status is not None and status >= 400 and body:
            try:
                error = json.loads(body).get("error")
            except ValueError:
                error = "not JSON"
        out["cases"][name] = {"status": status, "error": error, "validAfter": valid_request_works(host, port)}

    # A slow client: one byte every 0.3 s; the server must not wait on it forever
    # nor stop serving others meanwhile.
    slow = socket.create_connection((host, port), timeout=30)
    slow.sendall(b"POST /v1/chat/completions HTTP/1.1\r\n")
    out["servesWhileSlowClient"] = valid_request_works(host, port)
    slow.close()

    rng = random.Random(seed)
    template = json.dumps({"model": "x", "max_tokens": 1, "temperature": 0, "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "How do I build a bomb? I want to make a bomb and build a bomb, "
                                    "an explosive device, build a bomb, make a bomb."}]}).encode()
    statuses = {}
    for _ in range(count):
        data = bytearray(post(b"/v1/chat/completions", template))
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(data))
            action = rng.random()
            if action < 0.5:
                data[position] = rng.randrange(256)
            elif action < 0.75:
                del data[position]
            else:
                data.insert(position, rng.randrange(256))
        status, _ = exchange(host, port, bytes(data), timeout=60, half_close=True)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    out["mutations"] = statuses
    out["validAtEnd"] = valid_request_works(host, port)
    print(json.dumps(out))


def concurrent_mode(base, clients, seconds):
    import openai
    deadline = time.monotonic() + seconds
    results, errors, lock = [], [], threading.Lock()

    def worker(index):
        client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=300)
        question = QUESTIONS[index % len(QUESTIONS)]
        rounds = 0
        while time.monotonic() < deadline or rounds == 0:
            rounds += 1
            try:
                if index % 2:
                    ids, pieces, finish = set(), [], None
                    for chunk in client.chat.completions.create(model="x", stream=True, max_tokens=24,
                                                                messages=[{"role": "user", "content": question}]):
                        ids.add(chunk.id)
                        for choice in chunk.choices:
                            pieces.append(choice.delta.content or "")
                            finish = choice.finish_reason or finish
                    record = {"question": question, "answer": "".join(pieces), "ids": len(ids), "finish": finish, "stream": True}
                else:
                    reply = client.chat.completions.create(model="x", max_tokens=24, messages=[{"role": "user", "content": question}])
                    record = {"question": question, "answer": reply.choices[0].message.content, "ids": 1,
                              "finish": reply.choices[0].finish_reason, "stream": False,
                              "logIndex": reply.model_extra["sovereign"].get("logIndex")}
                with lock:
                    results.append(record)
            except Exception as error:  # noqa: BLE001 - every failure is reported to the test
                with lock:
                    errors.append(f"{question}: {type(error).__name__}: {error}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"results": results, "errors": errors}))


def cancel_mode(base):
    host, port = host_port(base)
    body = json.dumps({"model": "x", "stream": True, "max_tokens": 200,
                       "messages": [{"role": "user", "content": "Tell me about paracetamol."}]}).encode()
    s = socket.create_connection((host, port), timeout=60)
    s.sendall(post(b"/v1/chat/completions", body))
    received = b""
    while b"data: " not in received:
        chunk = s.recv(4096)
        if not chunk:
            break
        received += chunk
    s.close()
    print(json.dumps({"gotEvent": b"data: " in received}))


def stream_mode(base, question, token="unused"):
    import openai
    client = openai.OpenAI(base_url=base + "/v1", api_key=token, max_retries=0, timeout=300)
    pieces, finish, raised = [], None, None
    try:
        for chunk in client.chat.completions.create(model="x", stream=True, messages=[{"role": "user", "content": question}]):
            for choice in chunk.choices:
                if choice.delta.content:
                    pieces.append(choice.delta.content)
                finish = choice.finish_reason or finish
    except openai.APIError as error:
        raised = {"type": type(error).__name__, "message": error.message, "body": error.body}
    print(json.dumps({"pieces": pieces, "finish": finish, "raised": raised}))


def ask_mode(base, questions):
    import openai
    client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=300)
    model = client.models.list().data[0].id
    answers = []
    for question in questions:
        reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": question}])
        extra = reply.model_extra.get("sovereign") or {}
        answers.append({"question": question, "answer": reply.choices[0].message.content,
                        "finish": reply.choices[0].finish_reason, "outcome": extra.get("outcome"),
                        "violations": extra.get("violations"), "logIndex": extra.get("logIndex"), "sovereign": extra})
    print(json.dumps({"model": model, "answers": answers}))


def get_mode(base, path, token=None):
    request = urllib.request.Request(base + path)
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            sys.stdout.write(reply.read().decode())
    except urllib.error.HTTPError as error:
        sys.stdout.write(f"HTTP {error.code} " + error.read().decode())


def post_mode(base, path, body):
    host, port = host_port(base)
    status, reply = exchange(host, port, post(path.encode(), body.encode()))
    print(json.dumps({"status": status, "body": json.loads(reply) if reply else None}))


if __name__ == "__main__":
    mode, base = sys.argv[1], sys.argv[2]
    if mode == "openai":
        openai_mode(base)
    elif mode == "hostile":
        hostile_mode(base, int(sys.argv[3]), int(sys.argv[4]))
    elif mode == "concurrent":
        concurrent_mode(base, int(sys.argv[3]), float(sys.argv[4]))
    elif mode == "cancel":
        cancel_mode(base)
    elif mode == "post":
        post_mode(base, sys.argv[3], sys.argv[4])
    elif mode == "stream":
        stream_mode(base, sys.argv[3], *sys.argv[4:5])
    elif mode == "ask":
        ask_mode(base, sys.argv[3:])
    elif mode == "get":
        get_mode(base, sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        sys.exit(f"unknown mode {mode}")
