"""Developer tools for the authorizer: a loopback OpenID issuer and the demo.

Nothing here is deployed: ``sam build`` packages only the ``authorizer`` package.
"""
