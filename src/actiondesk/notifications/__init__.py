"""Notifications of approval requests: in the app, and optionally by e-mail and webhook."""
