"""Azure Policy in the emulator: assignments, initiatives and exemptions (`models`), their ARM
operations (`responses`), and Deny enforced where the product writes."""
