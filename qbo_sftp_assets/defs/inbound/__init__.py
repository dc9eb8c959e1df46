"""Inbound: each partner file from landing through validation and posting to its acknowledgment."""
