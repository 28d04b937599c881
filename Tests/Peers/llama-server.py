"""One llama.cpp server (`llama-server`, embedded in the PyPI wheel xllamacpp) on loopback.

    llama-server.py MODEL PORT chat|embed [N_CTX]

Serves the OpenAI-compatible API with the model's own chat template, as `llama-server
--jinja` does, until it is signalled — or, when PEER_OWNER names a process (the test run that
started it), until that process is gone, however it ended.
"""
import os
import select
import signal
import sys
import threading

import xllamacpp

model, port, role = sys.argv[1], int(sys.argv[2]), sys.argv[3]
params = xllamacpp.CommonParams()
params.model.path = model
params.hostnames = ["127.0.0.1"]
params.port = port
params.n_ctx = int(sys.argv[4]) if len(sys.argv) > 4 else 8192
params.use_jinja = True
if role == "embed":
    params.embedding = True
    params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
server = xllamacpp.Server(params)
print(f"listening on {server.listening_address}", flush=True)
stopped = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stopped.set())
signal.signal(signal.SIGINT, lambda *_: stopped.set())
if os.environ.get("PEER_OWNER"):
    # A pidfd becomes readable when its process exits, and cannot be fooled by a reused pid.
    try:
        owner = os.pidfd_open(int(os.environ["PEER_OWNER"]))
    except ProcessLookupError:
        sys.exit("the process that started this server is gone")

    def watch():
        select.select([owner], [], [])
        stopped.set()

    threading.Thread(target=watch, daemon=True).start()
stopped.wait()
