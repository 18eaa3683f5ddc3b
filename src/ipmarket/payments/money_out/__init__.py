"""Money going out: payouts to users, their connected accounts, and the transfers of each
recipient's part of a sale. Its SQL is `money_out.repository`."""
