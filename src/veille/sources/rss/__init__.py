"""RSS / Atom connector: conditional GET with httpx, parsing with feedparser; read only."""
