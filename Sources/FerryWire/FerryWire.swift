/// FerryWire: QUIC v1 codecs (RFC 9000 §16–19, RFC 9221) with no dependencies and no I/O.
