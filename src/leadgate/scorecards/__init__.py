"""scorecards domain."""
