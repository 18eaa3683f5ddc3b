"""The chain module: the seed's `IPAuthorizationChain` contract on an EVM chain, behind a port,
fed from the transparency log's events on the `blockchain` queue."""
