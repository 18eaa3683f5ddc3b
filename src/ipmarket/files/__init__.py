"""Files: uploads stored through a storage port, served through signed, expiring URLs.

Other modules use only what is named here. IP assets and products accept only URLs of files
their user uploaded (`resolve_owned_files`), keep the file ids, and render them back as
signed URLs (`signed_url`). Pages store a file their form carried with `accepted_upload`.
"""

from ipmarket.files.deps import get_storage
from ipmarket.files.models import StoredFile
from ipmarket.files.service import (
    accepted_upload,
    file_hashes,
    file_id_from_url,
    read_bytes,
    resolve_owned_files,
    store_derived,
    stored_files,
)
from ipmarket.files.signing import FILES_PATH, signed_url, url_key
from ipmarket.files.sniff import sniff
from ipmarket.files.storage import LocalStorage, Storage, make_storage

__all__ = [
    "FILES_PATH",
    "LocalStorage",
    "Storage",
    "StoredFile",
    "accepted_upload",
    "file_hashes",
    "file_id_from_url",
    "get_storage",
    "make_storage",
    "read_bytes",
    "resolve_owned_files",
    "signed_url",
    "sniff",
    "store_derived",
    "stored_files",
    "url_key",
]
