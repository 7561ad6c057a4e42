"""/wechat: the official account's message server (URL verification and messages)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response

from knowledge.errors import NotFound
from web.channels.wechat import WeChatService

router = APIRouter(include_in_schema=False)


def _service(request: Request) -> WeChatService:
    service: WeChatService | None = getattr(request.app.state, "wechat", None)
    if service is None:
        raise NotFound("the WeChat channel is not configured (MENPAI_WECHAT_TOKEN)")
    return service


@router.get("/wechat")
async def verify(
    request: Request,
    signature: Annotated[str, Query(max_length=64)] = "",
    timestamp: Annotated[str, Query(max_length=32)] = "",
    nonce: Annotated[str, Query(max_length=64)] = "",
    echostr: Annotated[str, Query(max_length=256)] = "",
) -> Response:
    """URL verification: sha1 over the sorted token/timestamp/nonce; echostr back unchanged."""
    _service(request).verify(signature, timestamp, nonce)
    return PlainTextResponse(echostr)


@router.post("/wechat")
async def message(
    request: Request,
    signature: Annotated[str, Query(max_length=64)] = "",
    timestamp: Annotated[str, Query(max_length=32)] = "",
    nonce: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    service = _service(request)
    service.verify(signature, timestamp, nonce)
    params = {k: v for k, v in request.query_params.items()}
    body = await request.body()
    reply = await service.handle(body, params)
    media = "text/plain" if reply == "success" else "application/xml"
    return Response(reply, media_type=media)
