/// FerryDaemon: configuration, policy hooks, services and tunnels, control socket, metrics and systemd integration for ferryd.
