"""The web layer: the Quart app, ActivityPub endpoints, the client API and HTML pages."""
