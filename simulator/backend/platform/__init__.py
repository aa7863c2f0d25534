"""The 一卡通 application service platform: the model (`Platform`), its HTTP API (`make_app`,
imported from `.api` so that FastAPI loads only where it is served) and its in-process port."""

from .errors import Conflict, Forbidden, Invalid, NotFound, PlatformError, Unauthenticated
from .port import InProcessPlatform
from .service import OPERATOR, Platform, open_store

__all__ = ["OPERATOR", "Conflict", "Forbidden", "InProcessPlatform", "Invalid", "NotFound", "Platform",
           "PlatformError", "Unauthenticated", "open_store"]
