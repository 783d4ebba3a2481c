"""Mastodon connector: REST polling (notifications, hashtags, search, lists, conversations),
server-sent-events streaming, and outbound statuses / boosts / favourites / deletes."""
