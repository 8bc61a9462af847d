"""The Anthropic dialect: Messages (streamed or not), count_tokens and models."""
