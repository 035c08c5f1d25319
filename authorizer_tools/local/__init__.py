"""The local loop's API Gateway and Lambda runtime, driven from outside.

Templates read, artifacts checked and run in AWS's runtime emulator, answers
mapped to the statuses API Gateway would send. It never imports the
authorizer: it runs it, as Lambda does.
"""
