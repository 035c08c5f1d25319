"""Access rules as data: requirements, route rules, and the requests a route key serves."""
