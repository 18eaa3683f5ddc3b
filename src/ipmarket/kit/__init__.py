"""Shared kernel: database, errors, envelope, pagination, clock, ids and crypto helpers."""
