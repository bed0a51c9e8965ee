"""The contract with msticpy: the secret names it resolves (`secret_names`), the settings it
reads (`settings`) and its setting schema (`schema`, checked against msticpy itself by tests).
"""
