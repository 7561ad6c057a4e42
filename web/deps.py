"""FastAPI dependencies: the heavy objects live on app.state (opened in lifespan)."""

from __future__ import annotations

from fastapi import Request

from knowledge.service import KnowledgeBase
from knowledge.settings import Settings
from web.chat import ChatService
from web.storage import Store


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_kb(request: Request) -> KnowledgeBase:
    return request.app.state.kb


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_chat(request: Request) -> ChatService:
    return request.app.state.chat
