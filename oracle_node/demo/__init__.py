"""`make demo` and `make bench-network`: the oracle network run end to end on the bundled real data.

- `views`: what each node's venues show it (the real Binance hours plus derived venues; one node's view
  manipulated);
- `observer`: the ObservationProvider that runs a node's real NodePipeline per network round;
- `session`: anvil + deployment + a LocalCluster of pipeline-driven nodes, round by round records;
- `table` / `report`: the live rich table and the HTML report (matplotlib charts inlined as PNG).
"""
