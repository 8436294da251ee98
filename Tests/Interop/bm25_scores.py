"""BM25 scores and top-k from bm25s (an implementation we did not write),
for the Swift BM25Index tests. Reads a JSON file:
  {"k1": float, "b": float, "k": int, "corpus": [[token, ...], ...], "queries": [[token, ...], ...]}
and prints JSON: {"version": str, "results": [{"scores": [float per document], "top": [doc index, ...]}, ...]}
Tokens come from the Swift side, so both implementations score the same tokens.
"""
import json
import sys

import bm25s
import numpy as np


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        request = json.load(handle)
    retriever = bm25s.BM25(k1=request["k1"], b=request["b"], method="lucene", dtype="float64")
    retriever.index(request["corpus"], show_progress=False)
    vocabulary = set(retriever.vocab_dict)
    results = []
    for query in request["queries"]:
        known = [token for token in query if token in vocabulary]
        scores = retriever.get_scores(known) if known else np.zeros(len(request["corpus"]))
        documents, _ = retriever.retrieve([known or [""]], k=request["k"], show_progress=False) if known else ([[]], None)
        results.append({"scores": [float(score) for score in scores], "top": [int(index) for index in documents[0]]})
    print(json.dumps({"version": bm25s.__version__, "results": results}))


if __name__ == "__main__":
    main()
