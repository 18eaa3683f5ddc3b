"""Payment providers behind one port: the built-in test provider and Stripe."""
