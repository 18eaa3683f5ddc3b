"""ipmarket: a marketplace for licensed secondary creation."""
