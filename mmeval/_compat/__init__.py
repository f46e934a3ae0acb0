"""Small, guarded fixes for the environments mmeval runs in."""
