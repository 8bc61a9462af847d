"""The keep-alive HTTP/1.1 pool under httpx's transport interface; imports nothing of ours."""
