"""Webhooks to the Standard Webhooks specification: signing, retry policy and fan-out (no I/O here)."""
