"""The creator studio: an original creator's IP assets with their review, license terms
and their versions, the applications received and the licenses granted, and earnings.

`router` holds the pages; `uploads` the two forms that carry files, whose visitor is
checked before their body is read, and whose paths (`UPLOAD_FORM_PATHS`) get the upload
body limit.
"""

from fastapi import APIRouter

from ipmarket.web.studio import assets, decisions, terms

router = APIRouter(include_in_schema=False)
router.include_router(assets.router)
router.include_router(terms.router)
router.include_router(decisions.router)
uploads = assets.uploads
UPLOAD_FORM_PATHS = assets.UPLOAD_FORM_PATHS

__all__ = ["UPLOAD_FORM_PATHS", "router", "uploads"]
