"""Buyer pages: checkout from a product, the order confirmation and detail, order history."""
