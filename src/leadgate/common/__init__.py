"""Small helpers shared by the domain packages."""
