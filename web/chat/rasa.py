"""Rasa's REST channel on loopback: the one client web talks to Rasa with. The HTTP API is never used.

A chat turn's request goes through httpcore's connection pool directly: httpx's client layers
(redirects, auth, cookies, event hooks, URL and header models) cost about a millisecond of CPU
a turn, a fifth of web's own part of one (py-spy), and a loopback call to Rasa needs none of them.
"""

from __future__ import annotations

import json
from typing import Any

import httpcore
import httpx

from knowledge.errors import MenpaiError


class RasaUnavailable(MenpaiError):
    code = "rasa_unavailable"


_TRANSPORT_ERRORS = (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError, OSError)


class RasaClient:
    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._webhook = f"{self.base_url}/webhooks/rest/webhook"
        self._timeouts = {"connect": min(timeout, 0.5), "read": timeout, "write": timeout, "pool": timeout}
        self._pool = httpcore.AsyncConnectionPool(max_connections=100, keepalive_expiry=30.0)
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=min(timeout, 0.5)))  # health checks

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        body = json.dumps({"sender": sender, "message": text, "metadata": metadata}).encode()
        try:
            response = await self._pool.request(
                "POST",
                self._webhook,
                headers=[(b"Content-Type", b"application/json"), (b"Content-Length", str(len(body)).encode())],
                content=body,
                extensions={"timeout": self._timeouts},
            )
            if response.status >= 400:
                raise RasaUnavailable(f"rasa did not answer: HTTP {response.status}")
            data = json.loads(response.content)
        except (*_TRANSPORT_ERRORS, httpcore.UnsupportedProtocol, ValueError) as exc:
            raise RasaUnavailable(f"rasa did not answer: {exc!r}") from exc
        if not isinstance(data, list):
            raise RasaUnavailable("rasa answered with something that is not a list")
        messages = [m for m in data if isinstance(m, dict)]
        if not messages:
            # Every turn of ours says something (even a restart). Rasa answers nothing when an
            # action failed, e.g. the action server is down: that is not an answer to show.
            raise RasaUnavailable("rasa answered nothing: did the action server fail?")
        return messages

    async def healthy(self) -> bool:
        try:
            response = await self._client.get(f"{self.base_url}/webhooks/rest/", timeout=0.5)
            return response.status_code == 200
        except httpx.HTTPError:
            return False

    async def aclose(self) -> None:
        await self._pool.aclose()
        await self._client.aclose()
