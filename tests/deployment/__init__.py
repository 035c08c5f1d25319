"""Tests of what is deployed: the template, the zips and wheel, the examples, SAM CLI's reading."""
