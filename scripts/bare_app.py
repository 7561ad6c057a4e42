"""The bench's anchor: a bare FastAPI app on the same uvicorn, serving the very same page bytes.

`python scripts/bare_app.py FILE PORT` serves FILE at every GET path (text/html). The plate
page's requests/s divided by this app's, measured in the same run, is the ratio the bench
reports: it does not move when a noisy neighbour slows the machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response


def create(body: bytes) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/{path:path}")
    async def page(path: str) -> Response:
        return Response(body, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})

    return app


if __name__ == "__main__":
    data = Path(sys.argv[1]).read_bytes()
    uvicorn.run(create(data), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
