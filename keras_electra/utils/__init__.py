"""Small helpers shared by the package (no heavy imports)."""
