"""Checkout: a purchase (reserve, open its intent, pay), how a payment ends (settlement),
reservations that run out, and a license's base fee. Its SQL is `checkout.repository`."""
