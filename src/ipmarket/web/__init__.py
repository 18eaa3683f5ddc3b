"""Server-rendered HTML pages (no JavaScript needed)."""
