"""Tests of the leadgate.events package (a package so test module names stay unique)."""
