"""Products: licensed goods offered for sale.

Other modules use only what is named here.
"""

from ipmarket.products.models import Product, ProductStatus
from ipmarket.products.queries import SaleState, products_per_creator, sale_states
from ipmarket.products.repository import ProductFilters, ProductRepository
from ipmarket.products.service import ProductService

__all__ = [
    "Product",
    "ProductFilters",
    "ProductRepository",
    "ProductService",
    "ProductStatus",
    "SaleState",
    "products_per_creator",
    "sale_states",
]
