"""Services: every rule of actiondesk lives here; the HTTP layer only translates."""
