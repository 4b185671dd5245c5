"""Everything that talks to a chain. The only package that imports web3."""
