"""Products: licensed goods offered for sale.

Other modules use only what is named here.
"""

from ipmarket.products.models import Product, ProductStatus
from ipmarket.products.queries import products_per_creator
from ipmarket.products.repository import ProductFilters, ProductRepository
from ipmarket.products.service import ProductService

__all__ = [
    "Product",
    "ProductFilters",
    "ProductRepository",
    "ProductService",
    "ProductStatus",
    "products_per_creator",
]
