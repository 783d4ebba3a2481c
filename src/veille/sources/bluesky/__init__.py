"""Bluesky connector: XRPC polling (notifications, searchPosts, list feeds) and outbound
posts / replies / likes / reposts written with deterministic record keys."""
