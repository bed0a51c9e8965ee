"""Azure Files (SMB share REST API): state model (models), routes (urls), wire (responses)."""
