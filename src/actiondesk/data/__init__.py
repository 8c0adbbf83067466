"""Data layer: the user's database (datasource) and actiondesk's own tables (state)."""
