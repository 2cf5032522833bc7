"""Small sub-commands that belong to no bigger feature module."""
