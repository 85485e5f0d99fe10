/// FerryTestSupport: a deterministic simulated network for the sans-IO transport.
