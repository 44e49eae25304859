"""Tests of the leadgate.imports package (a package so test module names stay unique)."""
