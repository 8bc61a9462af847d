"""GigaChat: the hub structs every dialect translates to, shared rules, the only client."""
