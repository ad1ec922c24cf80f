"""A local Algorithmia-compatible server: the management API with real state, git over HTTP, builds.

So a person can try algobot with no Algorithmia account, and tests exercise real behaviour::

    from algobot.sandbox import Sandbox, SandboxServer

    sandbox = Sandbox("./sandbox-data", hold_builds=False)
    server = SandboxServer(sandbox, port=0).start()   # server.url == "http://127.0.0.1:PORT"
    key = sandbox.create_key("demo")
    ...
    server.close(); sandbox.close()

The sandbox runs pushed code (a ``build.sh``, Python's byte-compiler) on this machine: it is for
local development only and listens on 127.0.0.1 unless told otherwise. Git needs an API key as the
HTTP Basic password (see `algobot.sandbox.git`); builds are confined as `algobot.sandbox.builds`
describes.
"""

from algobot.sandbox.app import Sandbox, create_key
from algobot.sandbox.demo import seed_demo
from algobot.sandbox.server import SandboxServer

__all__ = ["Sandbox", "SandboxServer", "create_key", "seed_demo"]
