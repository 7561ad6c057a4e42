"""The help desk's use cases: staff login, chats taken over, tickets, agency requests, ratings,
12345 work orders, the editor's loop and usage analytics. No HTTP here; routes call these."""
