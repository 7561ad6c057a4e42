"""/wechat: the official account's message server (URL verification and messages)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response

from web.channels.wechat import WeChatService
from web.db.engine import in_thread
from web.deps import get_wechat

router = APIRouter(include_in_schema=False)


@router.get("/wechat")
async def verify(
    service: Annotated[WeChatService, Depends(get_wechat)],
    signature: Annotated[str, Query(max_length=64)] = "",
    timestamp: Annotated[str, Query(max_length=32)] = "",
    nonce: Annotated[str, Query(max_length=64)] = "",
    echostr: Annotated[str, Query(max_length=256)] = "",
) -> Response:
    """URL verification: sha1 over the sorted token/timestamp/nonce; echostr back unchanged."""
    await in_thread(service.verify, signature, timestamp, nonce)
    return PlainTextResponse(echostr)


@router.post("/wechat")
async def message(
    request: Request,
    service: Annotated[WeChatService, Depends(get_wechat)],
    signature: Annotated[str, Query(max_length=64)] = "",
    timestamp: Annotated[str, Query(max_length=32)] = "",
    nonce: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    await in_thread(service.verify, signature, timestamp, nonce)  # the nonce is kept in the database
    params = {k: v for k, v in request.query_params.items()}
    body = await request.body()
    reply = await service.handle(body, params)
    media = "text/plain" if reply == "success" else "application/xml"
    return Response(reply, media_type=media)
