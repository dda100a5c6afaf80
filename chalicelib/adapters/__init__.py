"""Adapters: the ports of `chalicelib.ports` implemented on DynamoDB (PynamoDB) and SNS.

Only `chalicelib.wiring` imports these modules.
"""
