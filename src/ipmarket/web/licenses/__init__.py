"""License pages for secondary creators: apply, applications, licenses held, derivatives."""
