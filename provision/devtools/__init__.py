"""Developer tooling, apart from the product's core: the benchmark behind `invoke bench`, the
synthetic fleet it and the reliability tests onboard, and the emulator run as a child process.

Nothing in the product imports this package; it imports the product.
"""
