"""Static files with content-hashed URLs and long cache headers (phones on slow links)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

LONG_CACHE = "public, max-age=31536000, immutable"


class _CachedStatic(StaticFiles):
    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = LONG_CACHE
        return response

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = LONG_CACHE
        return response


class HashedStatic:
    """Knows every static file's content hash; ``url(name)`` changes when the file does."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.hashes = {
            p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()[:10]
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    def url(self, name: str) -> str:
        return f"/static/{name}?v={self.hashes[name]}"

    def app(self) -> StaticFiles:
        return _CachedStatic(directory=self.root)
