"""Products: licensed goods offered for sale.

Other modules use only what is named here.
"""

from ipmarket.products.models import Product, ProductStatus
from ipmarket.products.queries import products_per_creator
from ipmarket.products.repository import ProductRepository

__all__ = ["Product", "ProductRepository", "ProductStatus", "products_per_creator"]
