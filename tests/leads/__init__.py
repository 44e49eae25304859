"""Tests of the leadgate.leads package (a package so test module names stay unique)."""
