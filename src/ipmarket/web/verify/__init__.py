"""Verification pages: check a code, AUTHENTIC / NOT AUTHENTIC, and printable QR labels."""
