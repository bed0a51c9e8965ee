"""Azure RBAC as far as the emulator enforces it: built-in roles and role assignments."""
