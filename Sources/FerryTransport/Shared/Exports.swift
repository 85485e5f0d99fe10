// The transport's public API speaks in FerryCrypto's `Side`, `EncryptionLevel` and `EndpointID` and in
// FerryWire's codec types, so users of FerryTransport get them without extra imports.
@_exported import FerryCrypto
@_exported import FerryWire
