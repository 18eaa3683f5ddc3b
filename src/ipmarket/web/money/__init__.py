"""Money pages for everyone who earns: balances, earnings, payouts, and a seller's view of a
sale with its refund form."""
