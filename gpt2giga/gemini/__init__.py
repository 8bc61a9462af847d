"""The Gemini dialect: generateContent (whole and streamed), countTokens, embeddings, models."""
