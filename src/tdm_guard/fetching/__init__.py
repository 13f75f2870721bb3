"""The network side of the standalone commands: bounded HTTP GETs (`http`, with requests) and
the bulk checker that fetches each origin's policy files once and asks the core (`checker`)."""
