// The audit log's tests (RFC 6962 vectors, signed checkpoints, an independent Go verifier).
