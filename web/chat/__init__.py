"""The chat turn: the Rasa client, the fallback without Rasa, handoff (state machine and policy).

Import the modules themselves (``web.chat.turn``, ``web.chat.handoff``); this package imports nothing,
so the database layer can use the handoff state machine without pulling in the turn.
"""
