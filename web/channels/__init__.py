"""Channels residents reach us through besides the page: the WeChat protocol and its local fake, and delivery of
staff replies (long poll, notify, WeChat customer-service messages)."""
