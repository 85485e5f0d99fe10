// Users of Ferry get identities and ids (FerryCrypto, FerryWire) plus the transport value types that appear in
// Ferry's own API, without importing the sans-IO layers. FerryTransport is not re-exported wholesale: its
// `StreamError` would clash with Ferry's.
@_exported import FerryCrypto
@_exported import struct FerryTransport.TransportConfig
@_exported import struct FerryTransport.CongestionControlAlgorithm
@_exported import protocol FerryTransport.CongestionControllerFactory
@_exported import protocol FerryTransport.CongestionController
@_exported import struct FerryTransport.ConnectionStats
@_exported import enum FerryTransport.ConnectionCloseReason
@_exported import enum FerryTransport.CloseInitiator
@_exported import enum FerryTransport.DatagramError
@_exported import struct FerryTransport.TransportError
@_exported import struct FerryTransport.StreamID
