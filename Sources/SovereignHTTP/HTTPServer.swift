/// HTTP/1.1 on POSIX sockets (being written).
public enum SovereignHTTPPlaceholder {}
