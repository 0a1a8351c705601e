import Foundation
import NIOSSL
import SluiceCore

extension MQTT5EndpointConfiguration {
    /// `security`: `auth` (`username`, `password`) and `ssl` (`trustStore`, `keyStore`, `hostnameVerifier`), with
    /// the store fields of Gravitee's MQTT 5 endpoint (`path`, `content`, `certPath`, `certContent`, `keyPath`,
    /// `keyContent`, `keyPassword`, `password`), and the names its Kafka endpoint uses for the same things
    /// (`location`, `certificates`, `certificateChain`, `key`), so one `ssl` block serves both.
    static func parseSecurity(
        _ reader: ConfigurationReader, into configuration: inout MQTT5EndpointConfiguration,
        _ diagnostics: inout DiagnosticCollector
    ) {
        reader.warnUnknown(["auth", "ssl"], &diagnostics)
        let auth = reader.object("auth", &diagnostics)
        auth.warnUnknown(["username", "password"], &diagnostics)
        if let username = auth.string("username", &diagnostics),
            KafkaEndpointConfiguration.rejectExpression(username, at: auth.path.key("username"), &diagnostics),
            !username.isEmpty
        {
            configuration.userName = username
        }
        if let password = auth.string("password", &diagnostics),
            KafkaEndpointConfiguration.rejectExpression(password, at: auth.path.key("password"), &diagnostics)
        {
            if configuration.userName == nil {
                diagnostics.error(auth.path.key("password"), "a password needs a username", code: "MISSING_FIELD")
            } else {
                configuration.password = password
            }
        }
        if reader.has("ssl") {
            configuration.tls = parseTLS(reader.object("ssl", &diagnostics), &diagnostics)
        }
    }

    /// `ssl`: trust store and key store as PEM (content or file), or a PKCS#12 key store file; JKS is refused by
    /// name (convert it to PEM).
    package static func parseTLS(
        _ reader: ConfigurationReader, extraFields: Set<String> = [], _ diagnostics: inout DiagnosticCollector
    ) -> TLSConfiguration? {
        reader.warnUnknown(Set(["trustStore", "keyStore", "hostnameVerifier"]).union(extraFields), &diagnostics)
        var tls = TLSConfiguration.makeClientConfiguration()
        var valid = true
        if reader.bool("hostnameVerifier", &diagnostics) == false {
            tls.certificateVerification = .noHostnameVerification
        }
        let trustStore = reader.object("trustStore", &diagnostics)
        trustStore.warnUnknown(
            ["type", "path", "content", "location", "certificates", "password", "alias"], &diagnostics)
        switch TLSStoreReading.storeType(trustStore, &diagnostics) {
        case nil, "NONE":
            break
        case "PEM":
            guard
                let pem = pemText(
                    trustStore, contentKeys: ["content", "certificates"], pathKeys: ["path", "location"], &diagnostics)
            else {
                valid = false
                break
            }
            guard let certificates = try? NIOSSLCertificate.fromPEMBytes(pem.bytes), !certificates.isEmpty else {
                diagnostics.error(pem.path, "holds no PEM certificate")
                valid = false
                break
            }
            tls.trustRoots = .certificates(certificates)
        case let other?:
            diagnostics.error(
                trustStore.path.key("type"),
                "trust store type '\(other)' is not supported: use PEM (content or path)", code: "UNSUPPORTED_TYPE")
            valid = false
        }
        let keyStore = reader.object("keyStore", &diagnostics)
        keyStore.warnUnknown(
            [
                "type", "path", "content", "password", "alias", "certPath", "certContent", "keyPath", "keyContent",
                "keyPassword", "location", "certificateChain", "key",
            ], &diagnostics)
        switch TLSStoreReading.storeType(keyStore, &diagnostics) {
        case nil, "NONE":
            break
        case "PEM":
            // `location` (the Kafka endpoint's name) is one PEM file holding the chain and the key.
            guard
                let chain = pemText(
                    keyStore, contentKeys: ["certContent", "certificateChain"], pathKeys: ["certPath", "location"],
                    &diagnostics),
                let key = pemText(
                    keyStore, contentKeys: ["keyContent", "key"], pathKeys: ["keyPath", "location"], &diagnostics)
            else {
                valid = false
                break
            }
            guard let certificates = try? NIOSSLCertificate.fromPEMBytes(chain.bytes), !certificates.isEmpty else {
                diagnostics.error(chain.path, "holds no PEM certificate")
                valid = false
                break
            }
            // Always with a passphrase callback: without one, BoringSSL would prompt on stdin for an encrypted key.
            let passphrase = Array((keyStore.string("keyPassword", &diagnostics) ?? "").utf8)
            guard
                let privateKey = try? NIOSSLPrivateKey(
                    bytes: key.bytes, format: .pem, passphraseCallback: { $0(passphrase) })
            else {
                diagnostics.error(key.path, "holds no readable PEM private key (is keyPassword right?)")
                valid = false
                break
            }
            tls.certificateChain = certificates.map { .certificate($0) }
            tls.privateKey = .privateKey(privateKey)
        case "PKCS12":
            if !TLSStoreReading.loadPKCS12(keyStore, fileKey: "path", into: &tls, &diagnostics) { valid = false }
        case let other?:
            diagnostics.error(
                keyStore.path.key("type"), "key store type '\(other)' is not supported: use PEM or PKCS12",
                code: "UNSUPPORTED_TYPE")
            valid = false
        }
        return valid ? tls : nil
    }

    /// PEM text from the first of `contentKeys` given (PEM, or PEM in base64 as Gravitee's console stores it), else
    /// from the file at the first of `pathKeys` given, with the path of the field it came from.
    private static func pemText(
        _ reader: ConfigurationReader, contentKeys: [String], pathKeys: [String],
        _ diagnostics: inout DiagnosticCollector
    ) -> (bytes: [UInt8], path: JSONPath)? {
        let contentKey = contentKeys.first { reader.has($0) } ?? contentKeys[0]
        let pathKey = pathKeys.first { reader.has($0) } ?? pathKeys[0]
        if let content = reader.string(contentKey, &diagnostics) {
            if content.contains("-----BEGIN") { return (Array(content.utf8), reader.path.key(contentKey)) }
            if let decoded = Data(base64Encoded: content, options: .ignoreUnknownCharacters) {
                return (Array(decoded), reader.path.key(contentKey))
            }
            diagnostics.error(reader.path.key(contentKey), "is neither PEM nor PEM in base64")
            return nil
        }
        if let path = reader.string(pathKey, &diagnostics) {
            guard let data = FileManager.default.contents(atPath: path) else {
                diagnostics.error(reader.path.key(pathKey), "'\(path)' is not a readable file")
                return nil
            }
            return (Array(data), reader.path.key(pathKey))
        }
        diagnostics.error(reader.path, "a PEM store needs \(contentKey) or \(pathKey)", code: "MISSING_FIELD")
        return nil
    }
}
