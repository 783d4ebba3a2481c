"""X (formerly Twitter) live connector: API v2 over httpx.

``client`` wraps HTTP, auth (OAuth 2.0 user token with refresh, or OAuth 1.0a user keys) and error
mapping; ``normalize`` turns a stored payload into a ``NormalizedPost``; ``connector`` holds
``XConnector`` (streams, cursors, tiers, outbound actions).
"""
