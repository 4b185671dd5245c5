"""Byzantine operators for the process fault suite, each run as its own OS process on a peer's port.

python -m tests.integration.byzantine forge --config op4.yaml
    the real `oracle-node run`, except every observation it serves carries a corrupted signature
    (even rounds: recovers to another address; odd rounds: r corrupted, which may recover to nothing)
    and every co-signature it returns recovers to another address;
python -m tests.integration.byzantine garbage --port 9470
    a server on the peer's port that answers every request with 200 and malformed JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from aiohttp import web

from oracle_node import cli
from oracle_node.network.observation import SignedObservation, with_signature
from oracle_node.network.wire import CosignRequest
from oracle_node.service import wiring
from oracle_node.service.network_run import MeteredNode


class ForgingNode(MeteredNode):
    async def serve_observation(self, round_: int) -> SignedObservation:
        observation = await super().serve_observation(round_)
        forged = bytearray(observation.signature)
        if round_ % 2:
            forged[5] ^= 0xFF  # r corrupted: about half of such r are no curve point and recover nothing
        else:
            forged[64] = 55 - forged[64]  # v 27 <-> 28: always recovers, to another address
        return with_signature(observation, bytes(forged))

    async def cosign(self, request: CosignRequest, sender: str) -> tuple[bytes, bytes]:
        digest, signature = await super().cosign(request, sender)
        return digest, signature[:64] + bytes([signature[64] ^ 1])  # recovers to another address


async def garbage(port: int) -> None:
    async def junk(request: web.Request) -> web.Response:
        return web.Response(status=200, body=b'{"round": "x", garbage', content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", junk)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="byzantine")
    sub = parser.add_subparsers(dest="mode", required=True)
    sub.add_parser("forge").add_argument("--config", required=True)
    sub.add_parser("garbage").add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    if args.mode == "garbage":
        asyncio.run(garbage(args.port))
        return 0
    wiring.MeteredNode = ForgingNode  # type: ignore[misc]  # what build_network constructs
    return cli.main(["run", "--config", args.config])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
