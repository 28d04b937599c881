"""A scripted MCP server on the reference Python SDK (MCPServer, stdio), for tests.

    mcp-peer.py LOG

Every call's arguments are appended to LOG as one JSON line, so a test can check the bytes a
server received. Its tools: `echo` answers with its text; `lookup` with a fixed record;
`flood` sends one message of N bytes; `hang` never answers; `crash` exits mid-call;
`environment` names the variables it was given; `pid` says which process answers; `descriptors` what its open file descriptors refer to.
"""
import json
import os
import sys
import time

from mcp.server.mcpserver import MCPServer

log_path = sys.argv[1]
server = MCPServer("peer", version="1.0")


def logged(name, **arguments):
    with open(log_path, "a") as log:
        log.write(json.dumps({"tool": name, "arguments": arguments}) + "\n")


@server.tool()
def echo(text: str) -> str:
    """Answers with the text it is given."""
    logged("echo", text=text)
    return f"echo: {text}"


@server.tool()
def lookup(key: str) -> str:
    """Looks a key up in the team's tracker."""
    logged("lookup", key=key)
    return f"{key}: open, assigned to the platform team"


@server.tool()
def flood(size: int) -> str:
    """Answers with `size` bytes."""
    logged("flood", size=size)
    return "x" * size


@server.tool()
def hang() -> str:
    """Never answers."""
    logged("hang")
    time.sleep(3600)
    return "late"


@server.tool()
def crash() -> str:
    """Exits without answering."""
    logged("crash")
    os._exit(3)


@server.tool()
def environment() -> str:
    """The names of the environment variables the server was given."""
    logged("environment")
    return " ".join(sorted(os.environ))


@server.tool()
def pid() -> str:
    """The server's process id."""
    return str(os.getpid())


@server.tool()
def descriptors() -> str:
    """What each of the server's open file descriptors refers to, one per line."""
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets.append(f"{fd} {os.readlink(f'/proc/self/fd/{fd}')}")
        except OSError:
            pass
    return "\n".join(targets)


server.run()
