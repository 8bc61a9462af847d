"""The OpenAI Responses API: its wire, events, both translation halves, store and handlers."""
