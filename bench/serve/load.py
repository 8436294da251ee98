#!/usr/bin/env python3
"""Load generator for bench/serve: C client threads against one
OpenAI-compatible server, streaming chat completions.

Sends a fixed number of requests (the same list for every server: question i
is QUESTIONS[i % 16]) with temperature 0, max_tokens 64, stream: true and
stream_options.include_usage, from C threads that each take the next request
as soon as their previous one ends (a closed loop, so at most C requests are
in flight). One untimed warm-up request goes first. Prints one JSON object:
completion tokens / wall time (tokens/s), requests/s, p50 and p99 request
latency, p50 time to first token (the first non-empty content delta), and
every request's record (tokens, finish reason, text) so servers' answers can
be compared.

Usage: load.py --url http://127.0.0.1:PORT --concurrency C --requests N
               [--max-tokens 64] [--label NAME]
Only the standard library: one http.client connection per request.
"""
import argparse
import http.client
import json
import math
import os
import resource
import statistics
import sys
import threading
import time
import urllib.parse

# Short, distinct questions in the reference appliance's domain (a public
# service desk), so the steered server finds passages for most of them.
QUESTIONS = [
    "When is the service desk open?",
    "Is the service desk open on Saturdays?",
    "How can I contact the service desk?",
    "What is the e-mail address of the service desk?",
    "How long do you keep my conversations?",
    "What happens to the conversation logs after 90 days?",
    "How much paracetamol can an adult take in a day?",
    "How often can I take ibuprofen?",
    "Can I take ibuprofen with other anti-inflammatory medicines?",
    "What is the number of the crisis line?",
    "Is the service desk open on public holidays?",
    "How do I file a request for the appliance?",
    "Who handles urgent matters?",
    "Can you help me draft a short letter to my landlord?",
    "What can this service help me with?",
    "How many hours should I leave between paracetamol doses?",
]


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def cpu_snapshot(server_pids):
    """CPU seconds: the whole machine busy (from /proc/stat), the server
    processes (all their threads), and this load generator."""
    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    busy = (sum(fields[:8]) - fields[3] - fields[4]) / tick  # all but idle and iowait
    server = None
    for server_pid in server_pids:
        try:
            with open(f"/proc/{server_pid}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            server = (server or 0) + (int(rest[11]) + int(rest[12])) / tick  # utime + stime
        except OSError:
            pass
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return busy, server, usage.ru_utime + usage.ru_stime


def one_request(host, port, question, max_tokens, timeout):
    body = json.dumps({
        "messages": [{"role": "user", "content": question}],
        "temperature": 0,
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    })
    record = {"question": question, "error": None, "completion_tokens": None, "prompt_tokens": None,
              "finish_reason": None, "ttft": None, "latency": None, "deltas": 0, "text": ""}
    start = time.perf_counter()
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("POST", "/v1/chat/completions", body=body,
                           headers={"Content-Type": "application/json", "Accept": "text/event-stream"})
        response = connection.getresponse()
        if response.status != 200:
            record["error"] = f"HTTP {response.status}: {response.read()[:300].decode('utf-8', 'replace')}"
            return record
        text = []
        done = False
        while True:
            line = response.readline()
            if not line:
                break
            line = line.strip()
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                done = True
                break
            event = json.loads(data)
            if "error" in event:
                record["error"] = f"stream error: {json.dumps(event['error'])[:300]}"
            for choice in event.get("choices") or []:
                content = (choice.get("delta") or {}).get("content")
                if content:
                    if record["ttft"] is None:
                        record["ttft"] = time.perf_counter() - start
                    record["deltas"] += 1
                    text.append(content)
                if choice.get("finish_reason"):
                    record["finish_reason"] = choice["finish_reason"]
            usage = event.get("usage")
            if usage:
                record["completion_tokens"] = usage.get("completion_tokens")
                record["prompt_tokens"] = usage.get("prompt_tokens")
        record["latency"] = time.perf_counter() - start
        record["text"] = "".join(text)
        if not done and record["error"] is None:
            record["error"] = "stream ended without [DONE]"
        if record["completion_tokens"] is None and record["error"] is None:
            record["error"] = "no usage in the stream"
    except Exception as error:  # noqa: BLE001 — any failure is a failed request, reported
        record["error"] = f"{type(error).__name__}: {error}"
    finally:
        connection.close()
    return record


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--label", default="")
    parser.add_argument("--server-pid", type=int, action="append", default=[],
                        help="to account the server's CPU time (repeat for a server made of several processes)")
    arguments = parser.parse_args()
    url = urllib.parse.urlparse(arguments.url)
    host, port = url.hostname, url.port

    warm = one_request(host, port, "Hello, who are you?", arguments.max_tokens, arguments.timeout)
    if warm["error"]:
        print(f"load: warm-up request failed: {warm['error']}", file=sys.stderr)
        sys.exit(1)

    records = [None] * arguments.requests
    next_index = [0]
    lock = threading.Lock()

    def client():
        while True:
            with lock:
                index = next_index[0]
                if index >= arguments.requests:
                    return
                next_index[0] += 1
            question = QUESTIONS[index % len(QUESTIONS)]
            record = one_request(host, port, question, arguments.max_tokens, arguments.timeout)
            record["index"] = index
            record["end"] = time.perf_counter()
            records[index] = record

    threads = [threading.Thread(target=client, daemon=True) for _ in range(arguments.concurrency)]
    cpu_before = cpu_snapshot(arguments.server_pid)
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    cpu_after = cpu_snapshot(arguments.server_pid)
    busy = cpu_after[0] - cpu_before[0]
    server_cpu = cpu_after[1] - cpu_before[1] if cpu_before[1] is not None and cpu_after[1] is not None else None
    load_cpu = cpu_after[2] - cpu_before[2]

    good = [r for r in records if r["error"] is None]
    errors = [{"index": r["index"], "error": r["error"]} for r in records if r["error"] is not None]
    tokens = sum(r["completion_tokens"] for r in good)
    latencies = [r["latency"] for r in good]
    ttfts = [r["ttft"] for r in good if r["ttft"] is not None]
    for r in records:
        r["end"] = round(r["end"] - start, 4)
    result = {
        "label": arguments.label,
        "concurrency": arguments.concurrency,
        "requests": arguments.requests,
        "maxTokens": arguments.max_tokens,
        "wallSeconds": wall,
        "completionTokens": tokens,
        "promptTokens": sum(r["prompt_tokens"] or 0 for r in good),
        "tokensPerSecond": tokens / wall if wall > 0 else 0.0,
        "requestsPerSecond": len(good) / wall if wall > 0 else 0.0,
        "latencyP50": statistics.median(latencies) if latencies else None,
        "latencyP99": percentile(latencies, 99) if latencies else None,
        "ttftP50": statistics.median(ttfts) if ttfts else None,
        # CPU seconds during the timed part: the server's, this generator's, and
        # everything else on the machine (other work skews the comparison).
        "serverCpuSeconds": server_cpu,
        "loadCpuSeconds": load_cpu,
        "otherCpuSeconds": busy - (server_cpu or 0) - load_cpu,
        "cpus": os.cpu_count(),
        "errors": errors,
        "finishReasons": {reason: sum(1 for r in good if r["finish_reason"] == reason)
                          for reason in sorted({str(r["finish_reason"]) for r in good})},
        "records": records,
    }
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
