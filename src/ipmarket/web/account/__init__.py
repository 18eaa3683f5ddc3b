"""Account pages: sign up, sign in and out, email verification, passwords, profile."""
