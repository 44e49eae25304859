"""Tests of the leadgate.accounts package (a package so test module names stay unique)."""
