"""Market-data sources behind one interface: replay of recorded history and live connectors."""
