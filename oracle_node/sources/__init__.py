"""Market-data sources behind one interface: replay of recorded history and live connectors.

Modules (import the one you need; importing the package loads nothing heavy):

* `tick`        the `Tick` record every source yields
* `base`        `LiveSource` (async `poll(now)`) / `ReplaySource` protocols, `poll_all`, `Anomaly`,
                SourceError reasons, parsing helpers
* `tickcsv`     the documented multi-source tick CSV: `read_ticks`, `write_ticks`
* `ohlcv`       CryptoDataDownload and daily-close readers with every quirk of the real files handled
* `series`      funding (daily CSV, 8h JSON in percent) and DVOL series, in stated units
* `replay`      `TickReplay`, `build_ticks` / `build_tick_file` (OHLCV exports -> tick file)
* `http`        aiohttp JSON client mapping failures to SourceError; Retry-After gate
* `exchanges`   `CcxtSource` (binance, okx, bybit, ...): ticker, ±1 % depth, funding per 8h
* `deribit`     `DeribitOptionsSource`: option chain as `OptionQuote`s, index as a tick
* `liquidations` `AaveLiquidationSource`: LiquidationCall logs via raw eth_getLogs, exactly once
"""
