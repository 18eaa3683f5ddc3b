"""Content credentials (C2PA): product images carry a signed manifest naming the product, its
license chain and its verification page; uploaded images' own credentials are read and shown.

Other modules use only what is named here. Products sign their images with
`sign_product_images` (from their periodic job) and serve the copies (`served_images`,
`served`); IP assets record what their images carry (`record_credentials`) and show it
(`credentials_of`). `configure_signing` runs at startup and refuses a production deployment
without its certificate.
"""

from ipmarket.content_credentials.certificates import SigningMaterial, development_chain
from ipmarket.content_credentials.manifest import (
    PRODUCT_ASSERTION,
    Credentials,
    Validation,
    describe,
    read_credentials,
    sign_image,
)
from ipmarket.content_credentials.models import ImageCredentials, SignedImage
from ipmarket.content_credentials.service import (
    ProductImages,
    configure_signing,
    credentials_of,
    record_credentials,
    resign_product_images,
    served,
    served_images,
    sign_product_images,
    signing,
    verification_url,
)

__all__ = [
    "PRODUCT_ASSERTION",
    "Credentials",
    "ImageCredentials",
    "ProductImages",
    "SignedImage",
    "SigningMaterial",
    "Validation",
    "configure_signing",
    "credentials_of",
    "describe",
    "development_chain",
    "read_credentials",
    "record_credentials",
    "resign_product_images",
    "served",
    "served_images",
    "sign_image",
    "sign_product_images",
    "signing",
    "verification_url",
]
