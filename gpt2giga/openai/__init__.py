"""The OpenAI dialect: Chat Completions, embeddings, models; the Responses API in responses/."""
