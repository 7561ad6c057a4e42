"""Guides → index → retrieval → answers for the 数字政务门牌 assistant."""

__version__ = "0.1.0"
