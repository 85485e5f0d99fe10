import COpenSSL

extension EndpointIdentity {
    /// The certificate's notAfter: RFC 5280 §4.1.2.5's "no well-defined expiration date".
    static let certificateNotAfter = "99991231235959Z"

    /// Makes a DER self-signed Ed25519 X.509 v3 certificate for this identity (RFC 5280, RFC 8410).
    ///
    /// Peers authenticate by the raw public key inside (the endpoint id), not by a CA chain, so the certificate
    /// only has to carry the key in a form every TLS stack accepts: subject and issuer CN = the id hex, a random
    /// positive 127-bit serial, valid from an hour ago until 9999-12-31, and the extensions quinn/rustls and
    /// aioquic expect of an end-entity certificate (basicConstraints CA:FALSE, keyUsage digitalSignature,
    /// subjectKeyIdentifier).
    public func makeSelfSignedCertificate() throws(IdentityError) -> [UInt8] {
        let key = try makeOpenSSLPrivateKey()
        defer { EVP_PKEY_free(key) }
        guard let certificate = X509_new() else { throw Self.openSSLFailure("X509_new") }
        defer { X509_free(certificate) }

        guard X509_set_version(certificate, 2) == 1 else { throw Self.openSSLFailure("X509_set_version") }
        try setRandomSerial(certificate)
        guard X509_gmtime_adj(X509_getm_notBefore(certificate), -3600) != nil,
              ASN1_TIME_set_string_X509(X509_getm_notAfter(certificate), Self.certificateNotAfter) == 1
        else { throw Self.openSSLFailure("X509 validity") }

        guard let name = X509_NAME_new() else { throw Self.openSSLFailure("X509_NAME_new") }
        defer { X509_NAME_free(name) }
        let commonName = Array(id.hex.utf8)
        guard X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, commonName, Int32(commonName.count), -1, 0) == 1,
              X509_set_subject_name(certificate, name) == 1,
              X509_set_issuer_name(certificate, name) == 1
        else { throw Self.openSSLFailure("X509 subject name") }
        guard X509_set_pubkey(certificate, key) == 1 else { throw Self.openSSLFailure("X509_set_pubkey") }

        var context = X509V3_CTX()
        X509V3_set_ctx(&context, certificate, certificate, nil, nil, 0)
        let extensions: [(Int32, String)] = [
            (NID_basic_constraints, "critical,CA:FALSE"),
            (NID_key_usage, "critical,digitalSignature"),
            (NID_subject_key_identifier, "hash"),
        ]
        for (nid, value) in extensions {
            guard let extensionValue = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
                throw Self.openSSLFailure("X509V3_EXT_conf_nid")
            }
            defer { X509_EXTENSION_free(extensionValue) }
            guard X509_add_ext(certificate, extensionValue, -1) == 1 else { throw Self.openSSLFailure("X509_add_ext") }
        }

        // Ed25519 signs the message itself (RFC 8032 "PureEdDSA"), so no digest is given.
        guard X509_sign(certificate, key, nil) > 0 else { throw Self.openSSLFailure("X509_sign") }

        let length = i2d_X509(certificate, nil)
        guard length > 0 else { throw Self.openSSLFailure("i2d_X509") }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor = buffer.baseAddress
            return i2d_X509(certificate, &cursor)
        }
        guard written == length else { throw Self.openSSLFailure("i2d_X509") }
        return der
    }

    /// A random positive serial (RFC 5280 §4.1.2.2: at most 20 octets, positive).
    private func setRandomSerial(_ certificate: OpaquePointer) throws(IdentityError) {
        var serial = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&serial, Int32(serial.count)) == 1 else { throw Self.openSSLFailure("RAND_bytes") }
        serial[0] = serial[0] & 0x7f | 0x01 << 6  // positive and never zero-led
        guard let number = BN_bin2bn(serial, Int32(serial.count), nil) else { throw Self.openSSLFailure("BN_bin2bn") }
        defer { BN_free(number) }
        guard BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate)) != nil else {
            throw Self.openSSLFailure("BN_to_ASN1_INTEGER")
        }
    }

    /// Clears OpenSSL's error queue and names the failed call.
    static func openSSLFailure(_ operation: String) -> IdentityError {
        ERR_clear_error()
        return .cryptoFailure(operation: operation)
    }
}
