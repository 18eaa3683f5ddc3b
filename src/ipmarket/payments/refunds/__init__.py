"""Refunds of completed payments, whole or partial, and their SQL (`refunds.repository`)."""
