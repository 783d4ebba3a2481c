"""YouTube live connector: Data API v3 over httpx (comment threads on the channel's videos)."""
