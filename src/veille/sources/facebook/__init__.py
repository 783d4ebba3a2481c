"""Facebook Pages live connector: Graph API over httpx (comments, Messenger conversations)."""
