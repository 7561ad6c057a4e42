"""Rasa's REST channel on loopback: the one client web talks to Rasa with. The HTTP API is never used."""

from __future__ import annotations

from typing import Any

import httpx

from knowledge.errors import MenpaiError


class RasaUnavailable(MenpaiError):
    code = "rasa_unavailable"


class RasaClient:
    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=min(timeout, 0.5)))

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            response = await self._client.post(
                f"{self.base_url}/webhooks/rest/webhook",
                json={"sender": sender, "message": text, "metadata": metadata},
            )
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
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
        await self._client.aclose()
