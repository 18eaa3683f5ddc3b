"""The seller's shop: products under licenses held, their images, stock and sales."""
