"""The public marketplace pages: home, product search and pages, IP catalogue, profiles."""
