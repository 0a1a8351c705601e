import Foundation
import KafkaClient
import NIOSSL
import SluiceCore

extension KafkaEndpointConfiguration {
    /// `security`: `protocol`, `sasl` (`saslMechanism`, `saslJaasConfig`) and `ssl` (`trustStore`, `keyStore`,
    /// `hostnameVerifier`).
    static func parseSecurity(
        _ reader: ConfigurationReader, into configuration: inout KafkaEndpointConfiguration,
        _ diagnostics: inout DiagnosticCollector
    ) {
        reader.warnUnknown(["protocol", "sasl", "ssl"], &diagnostics)
        if let text = reader.string("protocol", &diagnostics) {
            let normalised = text.uppercased().replacingOccurrences(of: "-", with: "_")
            if let parsed = SecurityProtocol(rawValue: normalised) {
                configuration.securityProtocol = parsed
            } else {
                diagnostics.error(
                    reader.path.key("protocol"), "must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL")
            }
        }
        let securityProtocol = configuration.securityProtocol
        let sasl = reader.object("sasl", &diagnostics)
        if securityProtocol.usesSASL {
            configuration.sasl = parseSASL(sasl, &diagnostics)
        } else if reader.has("sasl") {
            diagnostics.warning(sasl.path, "ignored: protocol \(securityProtocol.rawValue) does not use SASL")
        }
        let ssl = reader.object("ssl", &diagnostics)
        if securityProtocol.usesTLS {
            configuration.tls = parseTLS(ssl, &diagnostics)
        } else if reader.has("ssl") {
            diagnostics.warning(ssl.path, "ignored: protocol \(securityProtocol.rawValue) does not use TLS")
        }
    }

    /// The SASL mechanisms Gravitee offers that this client does not speak.
    static let unsupportedMechanisms: Set<String> = ["GSSAPI", "OAUTHBEARER", "AWS-MSK-IAM", "AWS_MSK_IAM"]

    static func parseSASL(
        _ reader: ConfigurationReader, _ diagnostics: inout DiagnosticCollector
    ) -> KafkaClientConfiguration.SASL? {
        reader.warnUnknown(["saslMechanism", "saslJaasConfig"], &diagnostics)
        let mechanismPath = reader.path.key("saslMechanism")
        var mechanism: KafkaClientConfiguration.SASL.Mechanism?
        if let text = reader.string("saslMechanism", &diagnostics, required: true) {
            // Gravitee's forms write SCRAM_SHA-256 as well as SCRAM-SHA-256.
            let normalised = text.uppercased().replacingOccurrences(of: "_", with: "-")
            mechanism = KafkaClientConfiguration.SASL.Mechanism(rawValue: normalised)
            if mechanism == nil {
                let supported = KafkaClientConfiguration.SASL.Mechanism.allCases.map(\.rawValue).joined(separator: ", ")
                if unsupportedMechanisms.contains(normalised) || unsupportedMechanisms.contains(text.uppercased()) {
                    diagnostics.error(
                        mechanismPath, "SASL mechanism '\(text)' is not supported (supported: \(supported))",
                        code: "UNSUPPORTED_TYPE")
                } else {
                    diagnostics.error(mechanismPath, "must be one of \(supported)")
                }
            }
        }
        let jaasPath = reader.path.key("saslJaasConfig")
        guard let jaasText = reader.string("saslJaasConfig", &diagnostics, required: true),
            rejectExpression(jaasText, at: jaasPath, &diagnostics), let mechanism
        else { return nil }
        let jaas: KafkaJAASConfiguration
        do {
            jaas = try KafkaJAASConfiguration(parsing: jaasText)
        } catch {
            diagnostics.error(jaasPath, "is not a JAAS configuration: \(error.description)")
            return nil
        }
        let expectedModule =
            mechanism == .plain
            ? "org.apache.kafka.common.security.plain.PlainLoginModule"
            : "org.apache.kafka.common.security.scram.ScramLoginModule"
        let expectedName = expectedModule.split(separator: ".").last.map(String.init) ?? expectedModule
        guard jaas.loginModule.split(separator: ".").last.map(String.init) == expectedName else {
            diagnostics.error(
                jaasPath,
                "login module '\(jaas.loginModule)' does not go with \(mechanism.rawValue): use \(expectedModule)")
            return nil
        }
        guard let username = jaas.options["username"], let password = jaas.options["password"] else {
            diagnostics.error(jaasPath, "needs username=\"...\" and password=\"...\"", code: "MISSING_FIELD")
            return nil
        }
        return KafkaClientConfiguration.SASL(mechanism: mechanism, username: username, password: password)
    }

    /// `ssl`: a trust store and a key store as PEM (content or file), or a PKCS#12 key store file.
    static func parseTLS(_ reader: ConfigurationReader, _ diagnostics: inout DiagnosticCollector) -> TLSConfiguration? {
        reader.warnUnknown(["trustStore", "keyStore", "hostnameVerifier"], &diagnostics)
        var tls = TLSConfiguration.makeClientConfiguration()
        var valid = true
        if reader.bool("hostnameVerifier", &diagnostics) == false {
            tls.certificateVerification = .noHostnameVerification
        }
        let trustStore = reader.object("trustStore", &diagnostics)
        trustStore.warnUnknown(["type", "location", "certificates", "password"], &diagnostics)
        switch TLSStoreReading.storeType(trustStore, &diagnostics) {
        case nil, "NONE":
            break
        case "PEM":
            if let certificates = pemCertificates(
                trustStore, contentKey: "certificates", what: "trusted certificates", &diagnostics)
            {
                tls.trustRoots = .certificates(certificates)
            } else {
                valid = false
            }
        case let other?:
            diagnostics.error(
                trustStore.path.key("type"),
                "trust store type '\(other)' is not supported: use PEM (certificates or location)",
                code: "UNSUPPORTED_TYPE")
            valid = false
        }
        let keyStore = reader.object("keyStore", &diagnostics)
        keyStore.warnUnknown(
            ["type", "location", "certificateChain", "key", "keyPassword", "password"], &diagnostics)
        switch TLSStoreReading.storeType(keyStore, &diagnostics) {
        case nil, "NONE":
            break
        case "PEM":
            guard let (chain, key) = pemKeyStore(keyStore, &diagnostics) else {
                valid = false
                break
            }
            tls.certificateChain = chain.map { .certificate($0) }
            tls.privateKey = .privateKey(key)
        case "PKCS12":
            if !TLSStoreReading.loadPKCS12(keyStore, fileKey: "location", into: &tls, &diagnostics) { valid = false }
        case let other?:
            diagnostics.error(
                keyStore.path.key("type"), "key store type '\(other)' is not supported: use PEM or PKCS12",
                code: "UNSUPPORTED_TYPE")
            valid = false
        }
        return valid ? tls : nil
    }

    /// PEM certificates from `contentKey` (the PEM text) or `location` (a file of it).
    private static func pemCertificates(
        _ reader: ConfigurationReader, contentKey: String, what: String, _ diagnostics: inout DiagnosticCollector
    ) -> [NIOSSLCertificate]? {
        if let content = reader.string(contentKey, &diagnostics) {
            guard let certificates = try? NIOSSLCertificate.fromPEMBytes(Array(content.utf8)), !certificates.isEmpty
            else {
                diagnostics.error(reader.path.key(contentKey), "holds no PEM certificate")
                return nil
            }
            return certificates
        }
        if let location = reader.string("location", &diagnostics) {
            guard let certificates = try? NIOSSLCertificate.fromPEMFile(location), !certificates.isEmpty else {
                diagnostics.error(reader.path.key("location"), "'\(location)' is not a readable PEM file of \(what)")
                return nil
            }
            return certificates
        }
        diagnostics.error(reader.path, "a PEM store needs \(contentKey) or location", code: "MISSING_FIELD")
        return nil
    }

    /// A PEM key store: `certificateChain` and `key` as PEM text, or `location`, a PEM file holding both.
    private static func pemKeyStore(
        _ reader: ConfigurationReader, _ diagnostics: inout DiagnosticCollector
    ) -> ([NIOSSLCertificate], NIOSSLPrivateKey)? {
        let keyPassword = reader.string("keyPassword", &diagnostics)
        guard
            let chain = pemCertificates(
                reader, contentKey: "certificateChain", what: "certificates and a private key", &diagnostics)
        else { return nil }
        let keyBytes: [UInt8]
        let keyPath: JSONPath
        if let key = reader.string("key", &diagnostics) {
            keyBytes = Array(key.utf8)
            keyPath = reader.path.key("key")
        } else if let location = reader.string("location", &diagnostics),
            let data = FileManager.default.contents(atPath: location)
        {
            keyBytes = Array(data)
            keyPath = reader.path.key("location")
        } else {
            diagnostics.error(reader.path.key("key"), "a PEM key store needs its private key", code: "MISSING_FIELD")
            return nil
        }
        do {
            // Always with a passphrase callback: without one, BoringSSL would prompt on stdin for an encrypted key.
            let passphrase = Array((keyPassword ?? "").utf8)
            let key = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem) { setter in setter(passphrase) }
            return (chain, key)
        } catch {
            diagnostics.error(keyPath, "holds no readable PEM private key (is keyPassword right?)")
            return nil
        }
    }
}
