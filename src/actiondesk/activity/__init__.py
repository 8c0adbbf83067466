"""A record's activity: the runs, edits and approval requests that touched it."""
