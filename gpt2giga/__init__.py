"""gpt2giga: OpenAI, Anthropic and Gemini clients in front of GigaChat."""

__version__ = "1.0.0.dev0"
