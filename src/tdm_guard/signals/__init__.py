"""One module per standard: bytes, headers and URL paths in, `Reason`s out, no I/O.

- `robots` (RFC 9309) and `robots_plan` (what one file says for one agent and profile)
- `tdmrep` (W3C TDMRep: the well-known file, headers and meta tags, and their precedence)
- `aipref` (IETF aipref `Content-Usage`, Cloudflare `Content-Signal`)
- `noai` (`noai` / `noimageai` in `X-Robots-Tag` and robots meta tags)
- `html` (the bounded head scan the page signals read), `metadata` (JSON-LD, ID3)
- `files` (file kinds and the readers of reservations inside files: `xmp`, `iptc`, `epub`,
  `pdf`, `c2pa`), `rsl` (RSL 1.0 licence documents)
- `patterns` (robots-style path patterns, shared), `agents` (the AI user-agent catalog)
"""
